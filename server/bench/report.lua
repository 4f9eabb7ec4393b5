-- Shared by the wrk scripts: one machine-readable line at the end.
-- RESULT <requests> <requests/s> <p50 ms> <p99 ms> <non-2xx> <socket errors>
function report(summary, latency)
   local s = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format("RESULT %d %.1f %.2f %.2f %d %d\n", summary.requests,
      summary.requests / s, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      e.status, e.connect + e.read + e.write + e.timeout))
end

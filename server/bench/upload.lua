-- POST /api/v1/sync/upload: batches of $BATCH new scan records (unique ids per thread and
-- request), for checkpoint $CHECKPOINT, with the checkpoint token in $TOKEN.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local batch = tonumber(os.getenv("BATCH") or "100")
local cp = tonumber(os.getenv("CHECKPOINT") or "1")
local run = tonumber(os.getenv("RUN") or "0")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "")
local counter = 0

local threads = {}
function setup(thread)
   thread:set("thread_id", #threads + 1)
   table.insert(threads, thread)
end
function request()
   counter = counter + 1
   local recs = {}
   for i = 1, batch do
      local n = (counter - 1) * batch + i
      recs[i] = string.format(
         '{"id":"%08x%08x%016x","seq":%d,"checkpoint_id":%d,"scanned_at":%d,' ..
         '"direction":"%s","number":"419001000001","class":"short_haul","plate":"豫U12345",' ..
         '"accepted":true,"reason":null,"warnings":[],"bundle_version":1}',
         run, thread_id or 0, n, n, cp, 1796083200 + n % 86400, (n % 2 == 0) and "in" or "out")
   end
   local body = '{"checkpoint_id":' .. cp .. ',"records":[' .. table.concat(recs, ",") .. ']}'
   return wrk.format(nil, nil, nil, body)
end
done = report

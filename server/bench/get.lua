-- GET wrk's URL with the bearer token in $TOKEN (may be empty).
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
local token = os.getenv("TOKEN") or ""
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
done = report

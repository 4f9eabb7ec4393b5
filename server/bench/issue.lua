-- POST /api/v1/passes: a new short-haul pass per request, with the ops token in $TOKEN.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "")
wrk.body = '{"class":"short_haul","plate":"豫U12345","driver":"张三明","co_driver":"李四",' ..
   '"driver_id_number":"11010519491231002X","enterprise_id":1,"origin":"419001",' ..
   '"destination":"410102","cargo":"epidemic_supplies",' ..
   '"valid_from":"' .. os.getenv("VALID_FROM") .. '","valid_until":"' .. os.getenv("VALID_UNTIL") .. '"}'
done = report

-- wrk script: POST /answer for one machine, the request a Proxmox installer sends
-- (BENCH_ANSWER_BODY names the JSON file).
local f = assert(io.open(os.getenv("BENCH_ANSWER_BODY"), "r"))
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

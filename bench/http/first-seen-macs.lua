-- wrk script: GET /boot?mac= for machines never seen before, BENCH_MACS in all (default 10,240),
-- split between wrk's BENCH_THREADS threads (default 2, as -t2); each thread stops once its share
-- has been answered, so every request is a first sight and wrk's rate covers exactly these.
-- (wrk embeds LuaJIT: no bitwise operators, so the MAC bytes come from division.)
local total = tonumber(os.getenv("BENCH_MACS") or "10240")
local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local id, share, sent, answered
function init()
  id = tonumber(wrk.thread:get("id"))
  share = math.floor(total / threads)
  sent = 0
  answered = 0
end
function request()
  -- Past the share (requests still in flight), repeat the last MAC: those answers are not counted.
  local i = id * share + math.min(sent, share - 1)
  sent = sent + 1
  local mac = string.format("0a-00-%02x-%02x-%02x-%02x", id % 256, math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)
  return wrk.format("GET", "/boot?mac=" .. mac .. "&arch=x86_64&platform=efi")
end
function response(status)
  answered = answered + 1
  if answered >= share then wrk.thread:stop() end
end

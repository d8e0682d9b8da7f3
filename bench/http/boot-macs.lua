-- wrk script: GET /boot?mac= for a different known machine on every request.
-- (wrk embeds LuaJIT: no bitwise operators, so the MAC bytes come from division.)
local n = tonumber(os.getenv("BENCH_NODES") or "10000")
local i = 0
request = function()
  i = (i + 1) % n
  local mac = string.format("52-54-00-%02x-%02x-%02x", math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)
  return wrk.format("GET", "/boot?mac=" .. mac .. "&arch=x86_64&platform=efi")
end

-- wrk script: POST /answer for a different known machine on every request (none of them has an
-- install pending, so this is the answer path without a consumption).
local n = tonumber(os.getenv("BENCH_NODES") or "10000")
local i = 0
request = function()
  i = (i + 1) % n
  local mac = string.format("52:54:00:%02x:%02x:%02x", math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)
  local body = '{"$schema":{"version":"1.0"},"product":{"product":"pve"},"iso":{"release":"9.1","isorelease":"1"},"network_interfaces":[{"link":"eno1","mac":"' .. mac .. '"}]}'
  return wrk.format("POST", "/answer", { ["Content-Type"] = "application/json" }, body)
end

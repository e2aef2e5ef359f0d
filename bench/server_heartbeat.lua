-- wrk script: heartbeats from random devices among dev-0..dev-(N-1) (N from OXIDE_DEVICES), each
-- with its credential (the secret bench/server_bench.py enrolled it with).
-- Counts every response that is not 2xx (wrk itself only counts >= 400) and prints, after the
-- run, one machine-readable line that bench/server_bench.py parses:
--   oxide-bench: requests=R non_2xx=N first_bad_status=S connect=C read=R write=W timeout=T
local n = tonumber(os.getenv("OXIDE_DEVICES") or "10000")
local body = '{"current_model":"m","current_model_version":"v1","status":"online",' ..
             '"agent_version":"bench"}'
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + id * 7919)
  non_2xx = 0
  first_bad_status = 0
end

function request()
  local i = math.random(0, n - 1)
  local dev = "dev-" .. i
  local secret = string.format("bench-secret-%010d-0123456789abcdef", i)
  return wrk.format("POST", "/api/v1/devices/" .. dev .. "/heartbeat",
                    {["Content-Type"] = "application/json",
                     ["Authorization"] = "Bearer " .. secret,
                     ["X-Oxide-Device-Id"] = dev}, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
    if first_bad_status == 0 then first_bad_status = status end
  end
end

function done(summary, latency, requests)
  local bad, first = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non_2xx")
    local s = t:get("first_bad_status")
    if first == 0 and s ~= 0 then first = s end
  end
  local e = summary.errors
  io.write(string.format(
    "oxide-bench: requests=%d non_2xx=%d first_bad_status=%d connect=%d read=%d write=%d " ..
    "timeout=%d\n", summary.requests, bad, first, e.connect, e.read, e.write, e.timeout))
end

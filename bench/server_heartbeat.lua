-- wrk script: heartbeats from random devices among dev-0..dev-(N-1) (N from OXIDE_DEVICES).
local n = tonumber(os.getenv("OXIDE_DEVICES") or "10000")
local body = '{"current_model":"m","current_model_version":"v1","status":"online",' ..
             '"agent_version":"bench"}'
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  math.randomseed(os.time() + id * 7919)
end

function request()
  local dev = "dev-" .. math.random(0, n - 1)
  return wrk.format("POST", "/api/v1/devices/" .. dev .. "/heartbeat",
                    {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end

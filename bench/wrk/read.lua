-- wrk script for gatehouse's read paths: GET (JWKS, discovery) and POST /oauth/introspect.
-- Arguments (after `--`), in the positions ../shared/bench/wrk/token.lua uses, so the same
-- runner (run_peer.run_wrk) drives both: MODE PATH BASIC SCOPE USERS POOLFILE NTHREADS
--   MODE     get | introspect
--   POOLFILE introspect: a file whose first line is the token to introspect
local threads = {}
local next_id = 0
badbody = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local mode, path, body
local headers = {}

function init(args)
  mode = args[1] or "get"
  path = args[2] or "/"
  headers["Accept"] = "application/json"
  if mode == "introspect" then
    headers["Authorization"] = args[3]
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    local token = io.lines(args[6])()
    body = "token=" .. token
  end
end

function request()
  if mode == "introspect" then
    return wrk.format("POST", path, headers, body)
  end
  return wrk.format("GET", path, headers)
end

function response(status, hdrs, resp)
  if status == 200 and mode == "introspect" and not string.find(resp, '"active":true', 1, true) then
    badbody = badbody + 1
  end
end

function done(summary, latency, requests)
  local bb = 0
  for _, t in ipairs(threads) do bb = bb + (tonumber(t:get("badbody")) or 0) end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f non2xx=%d connect=%d read=%d write=%d timeout=%d starved=%d badbody=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.status, e.connect, e.read, e.write,
    e.timeout, 0, bb))
end

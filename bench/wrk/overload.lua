-- wrk script for the overload scenario: password grants (as ../shared/bench/wrk/token.lua sends
-- them), with each answer's latency kept apart by outcome, so accepted (2xx) and shed (503/429)
-- requests get their own percentiles. Run it with one connection per wrk thread (-tN -cN): a
-- thread then has one request in flight at a time and request()/response() pair up, so the time
-- between them (CLOCK_MONOTONIC through LuaJIT's ffi) is that request's latency, as wrk measures
-- it. By default clients ignore Retry-After and retry at once: the harshest overload, not a
-- polite one. With POLITE = "polite" each connection waits the Retry-After of a shed answer
-- before its next request, as RFC 9110 §10.2.3 asks of clients (wrk's delay() hook; wrk starts
-- the latency clock when the delayed request is written, so the wait is not counted as latency).
-- Arguments (after `--`): PATH BASIC_AUTH SCOPE USERS [POLITE]
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } gh_timespec;
int clock_gettime(int clk, gh_timespec *tp);
]]
local ts = ffi.new("gh_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local threads = {}
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local path, scope_q, nusers, counter, sent
local polite, wait_ms = false, 0
local headers = {}
ok, shed, other = {}, {}, 0 -- globals: read back per thread in done()

local function urlencode(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  path = args[1] or "/oauth/token"
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["Accept"] = "application/json"
  headers["Authorization"] = args[2]
  local scope = args[3] or "-"
  scope_q = (scope ~= "-" and scope ~= "") and ("&scope=" .. urlencode(scope)) or ""
  nusers = tonumber(args[4] or "1000")
  polite = args[5] == "polite"
  counter = ((tid or 0) * 997) % nusers
end

function request()
  local i = counter % nusers
  counter = counter + 1
  sent = now_us()
  return wrk.format("POST", path, headers,
    "grant_type=password&username=user" .. i .. "&password=password-" .. i .. scope_q)
end

function response(status, hdrs, body)
  local us = now_us() - sent
  if status == 200 and string.find(body, '"access_token"', 1, true) then
    ok[#ok + 1] = us
  elseif (status == 503 or status == 429) and (hdrs["retry-after"] or hdrs["Retry-After"]) then
    shed[#shed + 1] = us
    if polite then
      wait_ms = 1000 * (tonumber(hdrs["retry-after"] or hdrs["Retry-After"]) or 1)
    end
  else
    other = other + 1
  end
end

function delay()
  local ms = wait_ms
  wait_ms = 0
  return ms
end

local function pct(xs, p)
  if #xs == 0 then return -1 end
  table.sort(xs)
  return xs[math.max(1, math.min(#xs, math.floor(p / 100 * (#xs - 1) + 0.5) + 1))]
end

function done(summary, latency, requests)
  local all_ok, all_shed, n_other = {}, {}, 0
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("ok") or {}) do all_ok[#all_ok + 1] = v end
    for _, v in ipairs(t:get("shed") or {}) do all_shed[#all_shed + 1] = v end
    n_other = n_other + (tonumber(t:get("other")) or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "OVERLOAD duration_us=%d ok=%d shed=%d other=%d socket_errors=%d ok_p50_us=%d ok_p99_us=%d ok_max_us=%d shed_p50_us=%d shed_p99_us=%d shed_max_us=%d\n",
    summary.duration, #all_ok, #all_shed, n_other, e.connect + e.read + e.write + e.timeout,
    pct(all_ok, 50), pct(all_ok, 99), pct(all_ok, 100), pct(all_shed, 50), pct(all_shed, 99),
    pct(all_shed, 100)))
end

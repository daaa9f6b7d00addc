-- wrk script of loadtest -vs-apollo: POSTs
--   { video(videoNo: "VI7…") { videoNo videoName status size } }
-- with the video number rotating over the load test's videos (makeVideos:
-- VI7 and 17 digits, 0 to N-1), so that with the cache off every request is
-- an upstream call and no two requests in flight share a video: each of the
-- T threads rotates through its own N/T of them. It counts as
-- bad any answer that is not HTTP 200 with a video and no errors, and prints
-- "bad answers: N" at the end.
--
--   wrk -t2 -c64 -d10s -s scripts/loadtest/rotate-videos.lua http://127.0.0.1:8080/query -- 500 2
--
-- The arguments are N (default 500) and T, wrk's -t (default 2); the
-- server's upstream must serve those videos (the load test's emulator does).

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local first, count, i = 0, 500, 0
local path
bad = 0 -- global: done() reads it from each thread

function init(args)
  local n, t = tonumber(args[1]) or 500, tonumber(args[2]) or 2
  -- This thread's share of the videos (tid is set by setup).
  first = math.floor(tid * n / t)
  count = math.floor((tid + 1) * n / t) - first
  path = wrk.path
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = string.format('{"query":"{ video(videoNo: \\"VI7%017d\\") { videoNo videoName status size } }"}', first + i)
  i = (i + 1) % count
  return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"videoNo":"VI7', 1, true) or body:find('"errors"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + t:get("bad")
  end
  io.write(string.format("bad answers: %d\n", total))
end

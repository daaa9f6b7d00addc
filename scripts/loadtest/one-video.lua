-- wrk script of loadtest -vs-floor: POSTs one GraphQL query as
-- application/json, by default
--   { video(videoNo: "VI606404158946574336") { videoNo videoName status size } }
-- the same body every time, and counts as bad any answer that is not HTTP
-- 200 with that video and no errors; it prints "bad answers: N" at the end.
--
--   wrk -t2 -c64 -d5s -s scripts/loadtest/one-video.lua http://127.0.0.1:8080/query
--
-- The optional arguments (after --) are the request body and the video
-- number the answer must hold; loadtest passes its floorQuery and video.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local want
bad = 0 -- global: done() reads it from each thread

function init(args)
  local no = args[2] or "VI606404158946574336"
  wrk.method = "POST"
  wrk.body = args[1] or string.format('{"query":"{ video(videoNo: \\"%s\\") { videoNo videoName status size } }"}', no)
  wrk.headers["Content-Type"] = "application/json"
  want = '"videoNo":"' .. no .. '"'
end

function response(status, headers, body)
  if status ~= 200 or not body:find(want, 1, true) or body:find('"errors"', 1, true) then
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

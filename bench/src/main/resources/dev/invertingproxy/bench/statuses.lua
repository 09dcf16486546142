-- Counts the answers with a status above 399 by status, and keeps the start of the first such
-- body (the proxy's error answers name their reason), so that a failed run says what failed.
-- Printed at the end as "bad status <code>: <count>" and "bad body <code>: <text>".
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = {}
  bodies = {}
end

function response(status, headers, body)
  if status > 399 then
    bad[status] = (bad[status] or 0) + 1
    if bodies[status] == nil and body ~= nil then
      bodies[status] = string.sub(body, 1, 200):gsub("[\r\n]+", " ")
    end
  end
end

function done(summary, latency, requests)
  local total = {}
  local text = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("bad")) do
      total[status] = (total[status] or 0) + count
    end
    for status, body in pairs(thread:get("bodies")) do
      text[status] = text[status] or body
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("bad status %d: %d\n", status, count))
    io.write(string.format("bad body %d: %s\n", status, text[status] or ""))
  end
end

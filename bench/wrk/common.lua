-- What mappings.lua, sqs.lua and kinesis.lua share. Each loads it from its own directory:
--   local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
-- It defines setup(), which numbers the wrk threads (the global `tid` of each, from 0), and the
-- global table `statuses`, in which each thread's response() counts the statuses it gets.
-- common.bench_status(names), from done(), prints one parseable line with the totals of all threads,
--   BENCH_STATUS 200=123456 404=2 NAME=n ...
-- where NAME=n is, for each of `names` in turn, the sum of that global over the threads.
-- common.count(s, text) counts the occurrences of plain `text` in `s` (no pattern matching, so a
--   large answer is not scanned character by character).

local common = {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

statuses = {}

function common.bench_status(names)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  local keys = {}
  for k in pairs(total) do table.insert(keys, k) end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do table.insert(parts, k .. "=" .. total[k]) end
  for _, name in ipairs(names or {}) do
    local sum = 0
    for _, t in ipairs(threads) do sum = sum + t:get(name) end
    table.insert(parts, name .. "=" .. sum)
  end
  io.write("BENCH_STATUS " .. table.concat(parts, " ") .. "\n")
end

function common.count(s, text)
  local c, i = 0, 1
  while true do
    local j = string.find(s, text, i, true)
    if not j then return c end
    c = c + 1
    i = j + #text
  end
end

return common

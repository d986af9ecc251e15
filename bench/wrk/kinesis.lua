-- wrk script for Kinesis over JSON 1.1 (X-Amz-Target: Kinesis_20131202.<Op>).
--
--   wrk -t2 -c8 -d10s -s kinesis.lua http://127.0.0.1:PORT -- put STREAM [DATA_BYTES]
--   wrk -t2 -c8 -d10s -s kinesis.lua http://127.0.0.1:PORT -- get STREAM SHARD_ID [LIMIT]
--
-- put  PutRecord, one record per request: a unique partition key ("<thread>-<n>") and
--      DATA_BYTES (default 64) bytes of data, base64 on the wire
-- get  a consumer reading a shard over and over: each connection follows its own chain of
--      GetRecords (Limit LIMIT, default none: the server's 10,000) through NextShardIterator,
--      from a GetShardIterator TRIM_HORIZON; when a chain reaches the tip (MillisBehindLatest 0,
--      or no record), the next request starts a new chain
-- Every response status is counted, and done() prints one parseable line:
--   BENCH_STATUS 200=123456 records=123456 iterators=12 empty=0
-- records: records put (put) or received (get); iterators: GetShardIterator requests (get);
-- empty: GetRecords answers without a record (get).

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local op, stream, shard, limit, size = nil, nil, nil, nil, 64
local n = 0
records, iterators, empty = 0, 0, 0

local auth = "AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/kinesis/aws4_request, "
  .. "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000"

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  return ((s:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

local data = nil
local reports_lag = false
local iterators_ready = {}  -- get: iterators waiting for their connection's next GetRecords
local headers_for = {}

local function headers(target)
  if not headers_for[target] then
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end
    h["X-Amz-Target"] = "Kinesis_20131202." .. target
    headers_for[target] = h
  end
  return headers_for[target]
end

function init(args)
  op, stream = args[1], args[2]
  assert(op == "put" or op == "get", "OP must be put or get")
  assert(stream and stream ~= "", "STREAM is required")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
  wrk.headers["Authorization"] = auth
  wrk.headers["X-Amz-Date"] = "20240101T000000Z"
  if op == "put" then
    if args[3] then size = tonumber(args[3]) end
    data = base64(string.rep("d", size))
  else
    shard = args[3]
    assert(shard and shard ~= "", "SHARD_ID is required")
    if args[4] and args[4] ~= "" and args[4] ~= "0" then limit = tonumber(args[4]) end
  end
end

function request()
  if op == "put" then
    n = n + 1
    return wrk.format(nil, nil, headers("PutRecord"), '{"StreamName":"' .. stream .. '","Data":"' .. data
      .. '","PartitionKey":"' .. tid .. "-" .. n .. '"}')
  end
  local it = table.remove(iterators_ready)
  if not it then
    iterators = iterators + 1
    return wrk.format(nil, nil, headers("GetShardIterator"), '{"StreamName":"' .. stream .. '","ShardId":"' .. shard
      .. '","ShardIteratorType":"TRIM_HORIZON"}')
  end
  local body = '{"ShardIterator":"' .. it .. '"'
  if limit then body = body .. ',"Limit":' .. limit end
  return wrk.format(nil, nil, headers("GetRecords"), body .. "}")
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status < 200 or status >= 300 then return end
  if op == "put" then
    records = records + 1
    return
  end
  -- Plain finds first: a pattern match would scan a large answer character by character.
  local at = string.find(body, '"NextShardIterator"', 1, true)
  if not at then
    -- A GetShardIterator answer: the start of a new chain.
    local it = string.match(body, '"ShardIterator"%s*:%s*"([^"]+)"')
    if it then table.insert(iterators_ready, it) end
    return
  end
  local next_it = string.match(body, '^"NextShardIterator"%s*:%s*"([^"]+)"', at)
  local got = common.count(body, '"SequenceNumber"')
  records = records + got
  if got == 0 then empty = empty + 1 end
  -- MillisBehindLatest 0 marks the tip, and a new chain starts from the shard's first record.
  -- A server that never reports a lag (it always answers 0) is read on while pages are full.
  local lag_at = string.find(body, '"MillisBehindLatest"', 1, true)
  local behind = tonumber(lag_at and string.match(body, '^"MillisBehindLatest"%s*:%s*(%d+)', lag_at) or "0")
  if behind > 0 then reports_lag = true end
  if got > 0 and (behind > 0 or (not reports_lag and got >= (limit or 10000))) then
    table.insert(iterators_ready, next_it)
  end
end

function done(summary, latency, requests)
  common.bench_status({ "records", "iterators", "empty" })
end

-- wrk script for GetEventSourceMapping / UpdateEventSourceMapping.
--
--   wrk -t2 -c8 -d10s -s mappings.lua http://127.0.0.1:PORT -- OP UUID_FILE NTHREADS
--
-- OP is "get" or "update". UUID_FILE holds one mapping UUID per line; each wrk thread takes
-- every NTHREADS-th UUID and cycles through its share, so two threads never update the same
-- mapping and a mapping comes round again only long after its previous update settled (esmd
-- refuses an Update while the mapping is still Updating, as Lambda does).
-- Every response status is counted, and done() prints one parseable line:
--   BENCH_STATUS 200=123456 404=2

-- setup(), the global table statuses (status -> count) and BENCH_STATUS: see common.lua.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local op, uuids, idx, batch = nil, {}, 0, 0

-- Any SigV4 credential scope will do: both servers read only the service and region from it.
local auth = "AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/lambda/aws4_request, "
  .. "SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000"

function init(args)
  op = args[1]
  local nthreads = tonumber(args[3])
  local i = 0
  for line in io.lines(args[2]) do
    if line ~= "" then
      if i % nthreads == tid then table.insert(uuids, line) end
      i = i + 1
    end
  end
  assert(#uuids > 0, "no UUIDs for thread " .. tid)
  assert(op == "get" or op == "update", "OP must be get or update")
  wrk.headers["Authorization"] = auth
  wrk.headers["X-Amz-Date"] = "20240101T000000Z"
  if op == "update" then wrk.headers["Content-Type"] = "application/json" end
end

function request()
  idx = idx % #uuids + 1
  local path = "/2015-03-31/event-source-mappings/" .. uuids[idx]
  if op == "get" then
    return wrk.format("GET", path)
  end
  -- 1..10 is valid for every SQS queue (FIFO included) and changes the value each time.
  batch = batch % 10 + 1
  return wrk.format("PUT", path, nil, '{"BatchSize": ' .. batch .. '}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  common.bench_status()
end

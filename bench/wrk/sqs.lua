-- wrk script for SQS over the JSON protocol (X-Amz-Target: AmazonSQS.<Op>).
--
--   wrk -t2 -c8 -d10s -s sqs.lua http://127.0.0.1:PORT -- OP QUEUE_URL [BODY_BYTES]
--
-- OP is one of
--   send     SendMessage, one message per request; bodies are unique ("<thread>-<n>-" padded
--            with "x" to BODY_BYTES, default 64)
--   batch    SendMessageBatch, ten such messages per request (used to fill queues quickly)
--   receive  ReceiveMessage, MaxNumberOfMessages 1, WaitTimeSeconds 0 (a short poll); the
--            received message stays in flight for the queue's visibility timeout
--   consume  a consumer's loop: ReceiveMessage as above, and DeleteMessage for every message
--            received (each wrk thread deletes the handles its connections received, as soon
--            as one of them is free), so that few messages are in flight at any time
-- Every response status is counted, and done() prints one parseable line:
--   BENCH_STATUS 200=123456 400=2 msgs=123456 empty=0 failed=0 receives=123 deletes=123
-- msgs: messages received (receive, consume) or accepted (send, batch); empty: 2xx receives
-- that got no message (the queue ran dry); failed: entries a 2xx SendMessageBatch reported as
-- failed; receives / deletes: requests of each kind sent (consume).

-- setup(), the global table statuses (status -> count) and BENCH_STATUS: see common.lua.
local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

local op, url, size = nil, nil, 64
local n = 0
msgs, empty, failed = 0, 0, 0

-- Any SigV4 credential scope will do: the servers read only the service and region from it.
local auth = "AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/sqs/aws4_request, "
  .. "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000"

local targets = { send = "SendMessage", batch = "SendMessageBatch", receive = "ReceiveMessage",
  consume = "ReceiveMessage" }
local handles = {}  -- consume: receipt handles waiting for their DeleteMessage
receives, deletes = 0, 0

-- A JSON string literal: queue URLs and bodies here hold no character that needs escaping.
local function q(s) return '"' .. s .. '"' end

local function body_text()
  n = n + 1
  local s = tid .. "-" .. n .. "-"
  if #s < size then s = s .. string.rep("x", size - #s) end
  return s
end

function init(args)
  op, url = args[1], args[2]
  if args[3] then size = tonumber(args[3]) end
  assert(targets[op], "OP must be send, batch, receive or consume")
  assert(url and url ~= "", "QUEUE_URL is required")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
  wrk.headers["X-Amz-Target"] = "AmazonSQS." .. targets[op]
  wrk.headers["Authorization"] = auth
  wrk.headers["X-Amz-Date"] = "20240101T000000Z"
  if op == "receive" or op == "consume" then
    wrk.body = '{"QueueUrl":' .. q(url) .. ',"MaxNumberOfMessages":1,"WaitTimeSeconds":0}'
  end
end

local delete_headers = nil

function request()
  if op == "receive" then return wrk.format() end
  if op == "consume" then
    local h = table.remove(handles)
    if not h then
      receives = receives + 1
      return wrk.format()
    end
    deletes = deletes + 1
    if not delete_headers then
      delete_headers = {}
      for k, v in pairs(wrk.headers) do delete_headers[k] = v end
      delete_headers["X-Amz-Target"] = "AmazonSQS.DeleteMessage"
    end
    -- h is the handle as it stood in the JSON answer, escapes included: valid in JSON as is.
    return wrk.format(nil, nil, delete_headers, '{"QueueUrl":' .. q(url) .. ',"ReceiptHandle":"' .. h .. '"}')
  end
  if op == "send" then
    return wrk.format(nil, nil, nil, '{"QueueUrl":' .. q(url) .. ',"MessageBody":' .. q(body_text()) .. '}')
  end
  local entries = {}
  for i = 1, 10 do
    entries[i] = '{"Id":"m' .. i .. '","MessageBody":' .. q(body_text()) .. '}'
  end
  return wrk.format(nil, nil, nil, '{"QueueUrl":' .. q(url) .. ',"Entries":[' .. table.concat(entries, ",") .. ']}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status < 200 or status >= 300 then return end
  if op == "receive" then
    local got = common.count(body, '"ReceiptHandle"')
    msgs = msgs + got
    if got == 0 then empty = empty + 1 end
  elseif op == "consume" then
    -- A DeleteMessage answer holds no handle; an empty receive shows as receives > msgs.
    local h = string.match(body, '"ReceiptHandle"%s*:%s*"([^"]+)"')
    if h then
      msgs = msgs + 1
      table.insert(handles, h)
    end
  elseif op == "send" then
    msgs = msgs + 1
  else
    local f = common.count(body, '"SenderFault"')
    failed = failed + f
    msgs = msgs + 10 - f
  end
end

function done(summary, latency, requests)
  common.bench_status({ "msgs", "empty", "failed", "receives", "deletes" })
end

// Drives the AWS SDK for JavaScript v3 (client-lambda, client-sqs, client-kinesis) for the
// integration tests (aws_sdk_js.py): reads one JSON command from stdin,
//   {"endpoint": URL, "region": R, "calls": [{"service": "lambda"|"sqs"|"kinesis",
//                                             "command": "CreateEventSourceMapping", "input": {...}}]}
// runs the calls in order, and prints one JSON line on stdout: {"results": [...]}, one entry a
// call, either {"ok": output} or {"error": {"name", "message", "status", "fault"}}.
// Bytes travel as {"$bytes": base64} and dates as {"$date": epoch milliseconds}, both ways.
// The SDK retries nothing (maxAttempts 1), so an error is esmd's own answer. "http1": true
// gives every client Node's HTTP/1.1 handler (client-kinesis speaks HTTP/2 by default).
'use strict';

const lambda = require('@aws-sdk/client-lambda');
const sqs = require('@aws-sdk/client-sqs');
const kinesis = require('@aws-sdk/client-kinesis');

const modules = { lambda: [lambda, 'LambdaClient'], sqs: [sqs, 'SQSClient'], kinesis: [kinesis, 'KinesisClient'] };

function decode(v) {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') {
    if (typeof v.$bytes === 'string') return new Uint8Array(Buffer.from(v.$bytes, 'base64'));
    if (typeof v.$date === 'number') return new Date(v.$date);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  }
  return v;
}

function encode(v) {
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
  if (v instanceof Date) return { $date: v.getTime() };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== '$metadata').map(([k, x]) => [k, encode(x)]));
  }
  return v;
}

async function main() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  const cmd = JSON.parse(text);
  const config = {
    endpoint: cmd.endpoint,
    region: cmd.region,
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  if (cmd.http1) {
    const { NodeHttpHandler } = require('@smithy/node-http-handler');
    config.requestHandler = new NodeHttpHandler();
  }
  const clients = {};
  const results = [];
  for (const call of cmd.calls) {
    const [mod, clientName] = modules[call.service];
    clients[call.service] ??= new mod[clientName](config);
    const Command = mod[`${call.command}Command`];
    if (!Command) throw new Error(`no command ${call.command} in ${call.service}`);
    try {
      const out = await clients[call.service].send(new Command(decode(call.input || {})));
      results.push({ ok: encode(out), status: out.$metadata.httpStatusCode });
    } catch (e) {
      results.push({
        error: { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode ?? null, fault: e.$fault ?? null },
      });
    }
  }
  for (const c of Object.values(clients)) c.destroy();
  process.stdout.write(`${JSON.stringify({ results })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});

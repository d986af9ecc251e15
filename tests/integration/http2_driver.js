// Sends requests over ONE HTTP/2 connection with prior knowledge (Node's http2 client) for
// test_http2.py: reads {"url": "http://127.0.0.1:PORT", "requests": [{"method", "path",
// "headers", "body"}]} on stdin, sends every request at once (one stream each), and prints one
// JSON line: {"results": [{"status", "headers", "body", "stream", "ms"}]}, in request order,
// with each stream's id (1, 3, 5, ... on one connection) and how long its answer took.
'use strict';

const http2 = require('http2');

async function main() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  const cmd = JSON.parse(text);
  const session = http2.connect(cmd.url);
  session.on('error', (e) => {
    process.stderr.write(`session error: ${e.stack || e}\n`);
    process.exit(1);
  });
  const started = Date.now();
  const results = await Promise.all(cmd.requests.map((r) => new Promise((resolve, reject) => {
    const req = session.request({ ':method': r.method || 'GET', ':path': r.path, ...(r.headers || {}) });
    let status = 0;
    let headers = {};
    const chunks = [];
    req.on('response', (h) => {
      status = h[':status'];
      headers = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':')));
    });
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks).toString(), stream: req.id,
                                  ms: Date.now() - started }));
    req.on('error', reject);
    req.end(r.body || undefined);
  })));
  session.close();
  process.stdout.write(`${JSON.stringify({ results })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});

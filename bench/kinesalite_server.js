// Starts kinesalite bound to 127.0.0.1 only, with streams ACTIVE at once.
//
//   node kinesalite_server.js PATH/TO/node_modules/kinesalite PORT
//
// kinesalite's CLI listens on every interface and keeps new streams CREATING for 500 ms; the
// benchmark must bind loopback only. So this builds the same server with kinesalite(options)
// (what its CLI calls; in memory, as the CLI without --path) and serves it on 127.0.0.1, with
// GET /health answered here so that the driver can tell when it is up.
"use strict";
const http = require("http");

const [modulePath, portText] = process.argv.slice(2);
const port = Number.parseInt(portText ?? "", 10);
if (!modulePath || !Number.isInteger(port)) {
  console.error("usage: node kinesalite_server.js PATH/TO/kinesalite PORT");
  process.exit(2);
}
const kinesalite = require(modulePath);
const inner = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 });
const handler = inner.listeners("request")[0];
const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") return res.end("ok");
  return handler(req, res);
});
server.listen(port, "127.0.0.1", () => console.log(`kinesalite listening on http://127.0.0.1:${port}`));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));

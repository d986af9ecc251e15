// Starts fauxqs bound to 127.0.0.1 only, without request logging.
//
//   node fauxqs_server.mjs PATH/TO/node_modules/fauxqs/dist/app.js PORT
//
// fauxqs's own CLI (`npx fauxqs`, i.e. startFauxqs()) always listens on 0.0.0.0 and logs every
// request with pino; the benchmark must bind loopback only, and a per-request log line would be
// measured as fauxqs's cost. So this builds the same Fastify app with buildApp() — the function
// startFauxqs() itself calls — and listens on 127.0.0.1. All state is in memory, as always.
import { pathToFileURL } from "node:url";

const [appPath, portText] = process.argv.slice(2);
const port = Number.parseInt(portText ?? "", 10);
if (!appPath || !Number.isInteger(port)) {
  console.error("usage: node fauxqs_server.mjs PATH/TO/fauxqs/dist/app.js PORT");
  process.exit(2);
}
const { buildApp } = await import(pathToFileURL(appPath).href);
const app = buildApp({ logger: false });
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on http://127.0.0.1:${port}`);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => app.close().then(() => process.exit(0)));

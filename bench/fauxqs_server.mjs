// Starts fauxqs bound to 127.0.0.1 only.
//
//   node fauxqs_server.mjs PATH/TO/node_modules/fauxqs/dist/app.js PORT [log|quiet]
//
// fauxqs's own CLI (`npx fauxqs`, i.e. startFauxqs({ logger: true })) always listens on 0.0.0.0;
// the benchmark must bind loopback only. So this builds the same Fastify app with buildApp() —
// the function startFauxqs() itself calls — and listens on 127.0.0.1. "log" (the default) keeps
// the CLI's request log (one pino JSON line per request, to stdout), as `npx fauxqs` runs;
// "quiet" turns it off. All state is in memory, as always.
import { pathToFileURL } from "node:url";

const [appPath, portText, mode = "log"] = process.argv.slice(2);
const port = Number.parseInt(portText ?? "", 10);
if (!appPath || !Number.isInteger(port) || !["log", "quiet"].includes(mode)) {
  console.error("usage: node fauxqs_server.mjs PATH/TO/fauxqs/dist/app.js PORT [log|quiet]");
  process.exit(2);
}
const { buildApp } = await import(pathToFileURL(appPath).href);
const app = buildApp({ logger: mode === "log" });
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on http://127.0.0.1:${port} (${mode})`);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => app.close().then(() => process.exit(0)));

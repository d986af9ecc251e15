"""A real browser against esmd (issue 13): headless Chromium loads a page of another origin
whose script calls esmd with fetch(), and is refused unless --cors-origins names that origin;
a host name that resolves to 127.0.0.1 (DNS rebinding, simulated with Chromium's own resolver
rules) gets esmd's refusal instead of its data. test_security checks the same rules with raw
HTTP; this proves that a browser obeys what esmd answers."""
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

from esmd_harness import Esmd, wait_until

CHROMIUM = shutil.which("chromium")

PAGE = """<!doctype html><html><body><pre id="out">pending</pre><script>
const esmd = new URLSearchParams(location.search).get("esmd");
async function call(path, init) {
  try {
    const r = await fetch(esmd + path, init);
    return r.status + " " + (await r.text());
  } catch (e) {
    return "error: " + e;
  }
}
(async () => {
  const out = {};
  out.list = await call("/2015-03-31/event-source-mappings/");
  // A "simple" request: the browser sends it without a preflight; only the answer is hidden.
  out.invoke = await call("/_esmd/functions/fn/invoke",
                          {method: "POST", body: "{}", headers: {"Content-Type": "text/plain"}});
  // A preflighted one.
  out.exec = await call("/_esmd/functions/x", {method: "PUT", headers: {"Content-Type": "application/json"},
                                                body: JSON.stringify({Target: "exec:touch /tmp/esmd-browser"})});
  document.getElementById("out").textContent = JSON.stringify(out);
})();
</script></body></html>
"""


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@unittest.skipIf(CHROMIUM is None, "chromium is not installed (scripts/install-deps.sh --test installs it)")
class BrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        threading.Thread(target=cls.page_server.serve_forever, daemon=True).start()
        cls.page_origin = "http://127.0.0.1:%d" % cls.page_server.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.page_server.shutdown()
        cls.page_server.server_close()

    def chromium(self, url, *flags):
        """The DOM of url after its scripts ran, from a fresh headless Chromium."""
        profile = tempfile.mkdtemp(prefix="esmd-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--user-data-dir=" + profile, "--virtual-time-budget=10000", *flags, "--dump-dom", url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        return done.stdout

    def page_results(self, esmd):
        dom = self.chromium("%s/page.html?esmd=http://127.0.0.1:%d" % (self.page_origin, esmd.port))
        start = dom.index('<pre id="out">') + len('<pre id="out">')
        text = dom[start:dom.index("</pre>", start)]
        self.assertNotEqual(text, "pending", dom[-2000:])
        return json.loads(text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                          .replace("&amp;", "&"))

    def invocations(self, esmd):
        return json.loads(esmd.http("GET", "/_esmd/invocations")[2])["Invocations"]

    def test_a_page_of_another_origin_gets_nothing_and_runs_nothing(self):
        with Esmd("--function", "fn=builtin:ok", in_memory=True) as esmd:
            out = self.page_results(esmd)
            for call in ("list", "invoke", "exec"):
                self.assertTrue(out[call].startswith("error: TypeError"), (call, out[call]))
            # The simple POST reached esmd (a browser sends it) and was refused before it ran.
            self.assertEqual(self.invocations(esmd), [])
            self.assertEqual(esmd.http("GET", "/_esmd/functions/x")[0], 404)

    def test_an_origin_named_by_cors_origins_is_served_and_still_cannot_register_exec(self):
        with Esmd("--function", "fn=builtin:ok", "--cors-origins", self.page_origin, in_memory=True) as esmd:
            out = self.page_results(esmd)
            status, body = out["list"].split(" ", 1)
            self.assertEqual((status, json.loads(body)["EventSourceMappings"]), ("200", []))
            self.assertTrue(out["invoke"].startswith("200 "), out["invoke"])
            wait_until(lambda: len(self.invocations(esmd)) == 1, timeout=5)
            status, body = out["exec"].split(" ", 1)
            self.assertEqual(status, "403")
            self.assertIn("--allow-api-exec", json.loads(body)["Message"])
            self.assertFalse(os.path.exists("/tmp/esmd-browser"))

    def test_a_rebound_host_name_gets_the_refusal_not_the_data(self):
        with Esmd(in_memory=True) as esmd:
            dom = self.chromium("http://rebound.example:%d/2015-03-31/event-source-mappings/" % esmd.port,
                                "--host-resolver-rules=MAP rebound.example 127.0.0.1")
            self.assertIn("Host 'rebound.example:%d' refused" % esmd.port, dom)
            self.assertNotIn("EventSourceMappings", dom)
            # The same browser with a loopback name gets the data.
            dom = self.chromium("http://localhost:%d/2015-03-31/event-source-mappings/" % esmd.port)
            self.assertIn("EventSourceMappings", dom)


if __name__ == "__main__":
    unittest.main()

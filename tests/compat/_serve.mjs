// Shared plumbing of the Node compat receivers (tests/compat/*.mjs), the
// node:http twin of _serve.py: bind 127.0.0.1 port 0, print the port as the
// first stdout line, and for each request call check(req, rawBody) ->
// {status, ok, info}, print one JSON line {"ok","status","method","path",
// "headers","body_b64",...info} and answer `status`. An exception in check()
// is what express would do with it: 500, ok false, the error recorded.
import http from "node:http";
import fs from "node:fs";

export function serve(check) {
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      let r;
      try {
        r = check(req, body);
      } catch (e) {
        r = { status: 500, ok: false, info: { error: String(e) } };
      }
      const info = r.info || {};
      console.log(JSON.stringify({ ok: !!r.ok, status: r.status, method: req.method, path: req.url,
        headers: req.headers, body_b64: body.toString("base64"), ...info }));
      const out = r.status >= 200 && r.status < 300 ? "OK" : (info.error || "rejected");
      res.writeHead(r.status, { "Content-Type": "text/plain" });
      res.end(out);
    });
  });
  srv.listen(0, "127.0.0.1", () => console.log(String(srv.address().port)));
}

// argv secret: the string itself, or "@path" to re-read it from a file on
// every request (for secrets hookq generates after the receiver started).
export function secretArg(arg) {
  return arg.startsWith("@") ? fs.readFileSync(arg.slice(1), "utf8").trim() : arg;
}

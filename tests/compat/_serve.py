"""Shared plumbing of the Python compat receivers (tests/compat/*.py).

A receiver is a small HTTP server written from one seed document: it binds
127.0.0.1 port 0, prints the port as its first stdout line, and for each
request calls check(req) -> (status, ok, info) and prints one JSON line
{"ok", "status", "method", "path", "headers" (lower-cased names), "body_b64",
...info} before answering `status`. An exception in check() is what a web
framework would do with it: 500, ok false, the error recorded."""
import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_out = threading.Lock()


class Request:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def header(self, name):
        """The header's value or None (case-insensitive), like Flask's request.headers.get."""
        return self.headers.get(name)


def emit(obj):
    with _out:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def serve(check):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            req = Request(self.command, self.path, self.headers, body)
            try:
                status, ok, info = check(req)
            except Exception as e:  # a framework answers 500
                status, ok, info = 500, False, {"error": "%s: %s" % (type(e).__name__, e)}
            rec = {"ok": bool(ok), "status": status, "method": self.command, "path": self.path,
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "body_b64": base64.b64encode(body).decode()}
            rec.update(info or {})
            emit(rec)
            out = b"OK" if 200 <= status < 300 else (info or {}).get("error", "rejected").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_PUT = do_POST

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    emit(srv.server_address[1])
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


def secret_arg(arg):
    """argv secret: the string itself, or "@path" to re-read it from a file on
    every request (for secrets hookq generates after the receiver started)."""
    if arg.startswith("@"):
        with open(arg[1:]) as f:
            return f.read().strip()
    return arg

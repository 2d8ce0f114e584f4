#!/usr/bin/env python3
"""The --demo receiver of scripts/run: prints each webhook it gets and whether
both signatures verify (the sha256= header and Standard Webhooks)."""
import base64
import hashlib
import hmac
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["HOOKQ_DEMO_SECRET"]


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        plain = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        ok1 = hmac.compare_digest(plain, self.headers.get("X-Webhook-Signature", ""))
        msg = "%s.%s.%s" % (self.headers.get("webhook-id"), self.headers.get("webhook-timestamp"), body.decode())
        std = "v1," + base64.b64encode(hmac.new(SECRET.encode(), msg.encode(), hashlib.sha256).digest()).decode()
        ok2 = std in self.headers.get("webhook-signature", "").split(" ")
        print("receiver: %s attempt %s  X-Webhook-Signature %s  webhook-signature %s\n          %s" % (
            self.headers.get("X-Webhook-Event"), self.headers.get("X-Webhook-Attempt"),
            "verified" if ok1 else "BAD", "verified" if ok2 else "BAD", body.decode()[:160]), flush=True)
        self.send_response(200 if ok1 and ok2 else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)   # each worker keeps its connection open
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()

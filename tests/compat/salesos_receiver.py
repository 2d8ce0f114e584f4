#!/usr/bin/env python3
"""SalesOS receiver (seed 001): "All webhook deliveries include an
HMAC-SHA256 signature in the X-Webhook-Signature header." The document
prints no format; we read it as the most common one (and hookq's default):
X-Webhook-Signature: sha256=<lowercase hex HMAC-SHA256(secret, raw body)>.
200 if it matches (constant-time), else 401.

Usage: salesos_receiver.py SECRET|@secretfile"""
import hashlib
import hmac
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _serve import secret_arg, serve  # noqa: E402


def check(req):
    sig = req.header("X-Webhook-Signature") or ""
    expected = "sha256=" + hmac.new(secret_arg(sys.argv[1]).encode(), req.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        return 401, False, {"error": "bad signature"}
    return 200, True, {}


if __name__ == "__main__":
    serve(check)

#!/usr/bin/env python3
"""Bolten receiver (seed 002): checks the one authentication the webhook was
configured with, exactly as the document prints it, and answers 401
otherwise:
  none                    no check ("does not add any security")
  basic USER PASSWORD     Authorization: Basic <base64(user:password)>
  api_key KEY             X-API-KEY: YOUR_SECRET_KEY
  bearer TOKEN            Authorization: Bearer <token>
The document's body examples did not survive the web page, so the body is
only required to be a JSON object (hookq's envelope).

Usage: bolten_receiver.py MODE [CREDENTIALS...]"""
import base64
import hmac
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _serve import serve  # noqa: E402


def expected_header():
    mode = sys.argv[1]
    if mode == "none":
        return None, None
    if mode == "basic":
        return "Authorization", "Basic " + base64.b64encode(("%s:%s" % (sys.argv[2], sys.argv[3])).encode()).decode()
    if mode == "api_key":
        return "X-API-KEY", sys.argv[2]
    if mode == "bearer":
        return "Authorization", "Bearer " + sys.argv[2]
    raise SystemExit("bolten_receiver: unknown mode " + mode)


def check(req):
    name, value = expected_header()
    if name is not None:
        got = req.header(name) or ""
        if not hmac.compare_digest(got.encode(), value.encode()):
            return 401, False, {"error": "bad or missing %s" % name}
    try:
        body = json.loads(req.body)
    except ValueError as e:
        return 400, False, {"error": "body is not JSON: %s" % e}
    if not isinstance(body, dict):
        return 400, False, {"error": "body is not a JSON object"}
    return 200, True, {}


if __name__ == "__main__":
    expected_header()
    serve(check)

#!/usr/bin/env python3
"""ConnectGain receiver (seed 004), Python: the document's Flask example with
http.server instead of Flask (not installed), same logic: HMAC-SHA256 of the
raw body (request.data) with the secret, bare hex, hmac.compare_digest with
X-Webhook-Signature; 401 'Invalid signature', else read event and data from
request.json and answer 200 'OK'. Flask's behaviour around it is kept: a
missing header makes compare_digest raise (-> 500), request.json needs
Content-Type application/json (-> 415) and valid JSON (-> 400).

Usage: connectgain_receiver.py [SECRET]   (default the doc's 'your-secret-here')"""
import hashlib
import hmac
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _serve import serve  # noqa: E402


def request_json(req):
    """Flask's request.json: 415 unless the mimetype is JSON, 400 on bad JSON."""
    mimetype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    if not (mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))):
        raise _Abort(415, "Unsupported Media Type: %r" % mimetype)
    try:
        return json.loads(req.body)
    except ValueError as e:
        raise _Abort(400, "Bad Request: %s" % e)


class _Abort(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status


def webhook(req):
    signature = req.header('X-Webhook-Signature')
    secret = (sys.argv[1] if len(sys.argv) > 1 else 'your-secret-here').encode()

    # Verify signature
    computed = hmac.new(secret, req.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(computed, signature):
        return 401, False, {"error": "Invalid signature"}

    try:
        event = request_json(req)['event']
        data = request_json(req)['data']
    except _Abort as e:
        return e.status, False, {"error": str(e)}

    # Handle event
    if event == 'contact.created':
        pass
    elif event == 'deal.stage.changed':
        pass
    return 200, True, {"event": event, "data_type": type(data).__name__}


if __name__ == "__main__":
    serve(webhook)

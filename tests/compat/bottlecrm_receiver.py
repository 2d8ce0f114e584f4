#!/usr/bin/env python3
"""BottleCRM receiver (seed 000), Python: reads the raw body and the
X-BottleCRM-Signature header and calls the document's own verify()
(bottlecrm_verify.py, copied as printed). 200 if it returns True, else 401
(a missing header makes the printed verify() raise: also 401).

Usage: bottlecrm_receiver.py SECRET|@secretfile"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _serve import secret_arg, serve  # noqa: E402
from bottlecrm_verify import verify  # noqa: E402


def check(req):
    header = req.header("X-BottleCRM-Signature")
    try:
        ok = verify(req.body, header, secret_arg(sys.argv[1]))
    except Exception as e:
        return 401, False, {"error": "verify raised %s: %s" % (type(e).__name__, e)}
    return (200, True, {}) if ok else (401, False, {"error": "bad signature"})


if __name__ == "__main__":
    serve(check)

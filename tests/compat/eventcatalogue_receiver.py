#!/usr/bin/env python3
"""Receiver for seed 003 (a CRM's event catalogue): "All payloads are
wrapped in the standard webhook format" shown in every example:
  {"event": "<type>", "timestamp": "2025-01-15T10:30:00.000Z", "payload": {...}}
Checks: the body is a JSON object with exactly the keys event, timestamp,
payload in that order; timestamp has milliseconds and a Z
(/^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$/); event is one of the
catalogue's types (camelCase like lead.stageChanged, multi-segment like
form.response.created) and equals X-Webhook-Event; payload is an object.
200 if all hold, else 400. The document specifies no signature.

Usage: eventcatalogue_receiver.py"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _serve import serve  # noqa: E402

# The document's "Event summary" table.
CATALOGUE = {
    "lead.created", "lead.updated", "lead.deleted", "lead.stageChanged",
    "deal.created", "deal.updated", "deal.deleted", "deal.stageChanged",
    "client.created", "client.updated", "client.deleted",
    "contact.created", "contact.updated", "contact.deleted", "contact.stageChanged",
    "invoice.created", "invoice.updated", "invoice.paid", "invoice.deleted", "invoice.statusChanged",
    "quotation.created", "quotation.updated", "quotation.deleted", "quotation.statusChanged",
    "payment.received", "form.response.created",
}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def check(req):
    try:
        body = json.loads(req.body)
    except ValueError as e:
        return 400, False, {"error": "body is not JSON: %s" % e}
    if not isinstance(body, dict) or list(body.keys()) != ["event", "timestamp", "payload"]:
        return 400, False, {"error": "envelope keys are %r" % (list(body.keys()) if isinstance(body, dict) else body)}
    if body["event"] not in CATALOGUE:
        return 400, False, {"error": "unknown event %r" % body["event"]}
    if req.header("X-Webhook-Event") not in (None, body["event"]):
        return 400, False, {"error": "X-Webhook-Event differs from event"}
    if not isinstance(body["timestamp"], str) or not TS.match(body["timestamp"]):
        return 400, False, {"error": "timestamp %r" % body["timestamp"]}
    if not isinstance(body["payload"], dict):
        return 400, False, {"error": "payload is not an object"}
    return 200, True, {}


if __name__ == "__main__":
    serve(check)

// ConnectGain receiver (seed 004), Node: the document's express example
// with node:http instead of express (not installed). express.json() is
// JSON.parse of the UTF-8 body, so this is the document's logic line for
// line: HMAC-SHA256 over JSON.stringify(req.body) - the RE-SERIALISED body,
// not the raw bytes - as bare hex, compared with !== to X-Webhook-Signature;
// 401 'Invalid signature' or 200 'OK'. It works only because hookq's bodies
// are already what JSON.stringify(JSON.parse(body)) gives (SPEC 4a).
//
// Usage: node connectgain_receiver.mjs [SECRET]   (default the doc's 'your-secret-here')
import crypto from "node:crypto";
import { serve } from "./_serve.mjs";

serve((req, raw) => {
  if (req.method !== "POST") return { status: 404, ok: false, info: { error: "POST only" } };
  req.body = JSON.parse(raw.toString("utf8")); // app.use(express.json())

  const signature = req.headers["x-webhook-signature"];
  const secret = process.argv[2] || "your-secret-here";

  // Verify signature
  const hmac = crypto.createHmac("sha256", secret);
  hmac.update(JSON.stringify(req.body));
  const computedSignature = hmac.digest("hex");

  const canonical = Buffer.from(JSON.stringify(req.body), "utf8").equals(raw);
  if (signature !== computedSignature) {
    return { status: 401, ok: false, info: { error: "Invalid signature", canonical } };
  }

  const { event, data } = req.body;
  // Handle the event
  switch (event) {
    case "contact.created":
    case "deal.stage.changed":
      break;
  }
  return { status: 200, ok: true, info: { event, canonical, data_type: typeof data } };
});

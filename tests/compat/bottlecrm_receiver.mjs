// BottleCRM receiver (seed 000), Node: reads the raw body and the
// X-BottleCRM-Signature header and calls the document's own verify()
// (bottlecrm_verify.mjs, copied as printed). 200 if it returns true, else 401
// (timingSafeEqual throws on a missing or wrong-length header: also 401).
//
// Usage: node bottlecrm_receiver.mjs SECRET|@secretfile
import { verify } from "./bottlecrm_verify.mjs";
import { serve, secretArg } from "./_serve.mjs";

serve((req, body) => {
  const header = req.headers["x-bottlecrm-signature"];
  let ok;
  try {
    ok = verify(body, header, secretArg(process.argv[2]));
  } catch (e) {
    return { status: 401, ok: false, info: { error: "verify threw " + String(e) } };
  }
  return ok ? { status: 200, ok: true } : { status: 401, ok: false, info: { error: "bad signature" } };
});

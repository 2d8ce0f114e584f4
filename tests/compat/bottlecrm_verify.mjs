// BottleCRM's Node.js verifier, copied exactly as printed in
// /work/shared/seeds/000_26043fd085dddc5e.txt ("Verifying signatures"); only
// the line breaks and indentation the web page ate are restored.
import crypto from "node:crypto";
export function verify(body, header, secret) {
  const expected = "sha256=" + crypto
    .createHmac("sha256", secret)
    .update(body)
    .digest("hex");
  return crypto.timingSafeEqual(
    Buffer.from(expected), Buffer.from(header)
  );
}

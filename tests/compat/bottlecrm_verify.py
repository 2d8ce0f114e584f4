# BottleCRM's Python verifier, copied exactly as printed in
# /work/shared/seeds/000_26043fd085dddc5e.txt ("Verifying signatures"); only
# the line breaks and indentation the web page ate are restored.
import hmac, hashlib
def verify(body_bytes: bytes, header: str, secret: str) -> bool:
    expected = "sha256=" + hmac.new(
        secret.encode(), body_bytes, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, header)

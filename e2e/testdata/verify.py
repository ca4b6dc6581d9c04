"""Runs the Python verifier published in the webhooks documentation (copied
verbatim between the markers) over a JSON file of cases:

    python3 verify.py cases.json

where cases.json is [{"body_b64": "...", "secret": "...", "signature": "..."}].
Prints every rejection; exits 1 if any.
"""

# --- verbatim from the documentation ---
import hmac
import hashlib

def verify_signature(raw_body: bytes, secret: str, signature_header: str) -> bool:
    computed = hmac.new(
        secret.encode('utf-8'),
        raw_body,
        hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(computed, signature_header)
# --- end of verbatim copy ---

import base64
import json
import sys


def main(path):
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)
    rejected = 0
    for i, c in enumerate(cases):
        try:
            ok = verify_signature(base64.b64decode(c["body_b64"]), c["secret"], c["signature"])
        except Exception as err:  # a verifier that throws rejects too
            print(f"case {i}: raised {err!r}")
            ok = False
        if not ok:
            rejected += 1
            print(f"case {i}: rejected")
    print(f"{len(cases)} cases, {rejected} rejections")
    return 0 if rejected == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

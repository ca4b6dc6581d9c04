// Runs the Node.js verifier published in the webhooks documentation (copied
// verbatim between the markers) over a JSON file of cases:
//
//   node verify.js cases.json
//
// where cases.json is [{"body_b64": "...", "secret": "...", "signature": "..."}].
// Each body is checked as a Buffer and as a UTF-8 string, the two ways
// receivers hold a raw body. Prints every rejection; exits 1 if any.
'use strict';

// --- verbatim from the documentation ---
const crypto = require('crypto');

function verifySignature(rawBody, secret, signatureHeader) {
  const computed = crypto
    .createHmac('sha256', secret)
    .update(rawBody)
    .digest('hex');

  return crypto.timingSafeEqual(
    Buffer.from(computed),
    Buffer.from(signatureHeader)
  );
}
// --- end of verbatim copy ---

const fs = require('fs');

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let rejected = 0;
cases.forEach((c, i) => {
  const body = Buffer.from(c.body_b64, 'base64');
  for (const [form, rawBody] of [['Buffer', body], ['string', body.toString('utf8')]]) {
    let ok = false;
    try {
      ok = verifySignature(rawBody, c.secret, c.signature);
    } catch (err) {
      console.log(`case ${i} (${form}): threw ${err.message}`);
    }
    if (!ok) {
      rejected++;
      console.log(`case ${i} (${form}): rejected`);
    }
  }
});
console.log(`${cases.length} cases, ${rejected} rejections`);
process.exit(rejected === 0 ? 0 : 1);

package dashboard

import (
	"strings"
)

// snippets verify this webhook's deliveries: the documentation's Node.js
// and Python functions and the Go signature package. They read the secret
// from WEBHOOK_SECRET; once the secret is revealed on the page, the line
// that sets it holds the real value.
type snippets struct {
	Env, Node, Python, Go string
}

func newSnippets(secret string) snippets {
	env := "WEBHOOK_SECRET='<reveal the secret above>'"
	if secret != "" {
		env = "WEBHOOK_SECRET=" + shellQuote(secret)
	}
	return snippets{Env: env, Node: nodeSnippet, Python: pythonSnippet, Go: goSnippet}
}

// shellQuote quotes a value for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// The snippets are the documentation's, unchanged, so what the page shows
// is what the published verifiers do.
var (
	nodeSnippet = `const crypto = require('crypto');

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

// In your webhook handler
app.post('/webhooks/trackelio', (req, res) => {
  const signature = req.headers['x-trackelio-signature'];
  const isValid = verifySignature(req.rawBody, process.env.WEBHOOK_SECRET, signature);

  if (!isValid) {
    return res.status(401).send('Invalid signature');
  }

  const event = req.body;
  console.log('Received event:', event.type);

  // Handle the event
  res.status(200).send('OK');
});`

	pythonSnippet = `import hmac
import hashlib
import os

def verify_signature(raw_body: bytes, secret: str, signature_header: str) -> bool:
    computed = hmac.new(
        secret.encode('utf-8'),
        raw_body,
        hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(computed, signature_header)

# In your webhook handler:
# verify_signature(request.get_data(), os.environ['WEBHOOK_SECRET'],
#                  request.headers['X-Trackelio-Signature'])`

	goSnippet = `import (
	"net/http"
	"os"

	"github.com/trackelio/webhooks/signature"
)

func main() {
	// Verifies X-Trackelio-Signature (and the Standard Webhooks
	// webhook-signature with its timestamp) and answers 401 to anything else.
	h := signature.Middleware{
		Secrets:          []string{os.Getenv("WEBHOOK_SECRET")},
		RequireTimestamp: true,
	}.Wrap(http.HandlerFunc(handleEvent))
	http.Handle("POST /webhooks/trackelio", h)
	http.ListenAndServe(":8000", nil)
}`
)

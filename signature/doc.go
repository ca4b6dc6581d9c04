// Package signature signs webhook deliveries the way Trackelio sends them and
// verifies them on the receiving side. It implements two schemes; both sign
// the raw request body with the webhook secret.
//
// # X-Trackelio-Signature
//
// The documented scheme: the [Header] value is the lowercase hex
// HMAC-SHA256 of the raw request body, keyed with the secret string's UTF-8
// bytes exactly as the dashboard shows it ("whsec_…" included). It has no
// prefix, no timestamp and no list, so the Node.js and Python snippets in the
// customer documentation verify it; [Sign] makes it and [Verify] checks it.
// It proves origin and integrity but not freshness: a captured request can be
// replayed.
//
// # Standard Webhooks
//
// The scheme of https://www.standardwebhooks.com, which off-the-shelf
// libraries verify: [HeaderID] carries a unique message id, [HeaderTimestamp]
// the send time in Unix seconds and [HeaderSignature] a space-separated list
// of "v1,<base64>" entries, each the standard base64 of
// HMAC-SHA256(key, id + "." + timestamp + "." + body), where key is the
// base64-decoded part of a "whsec_<base64>" secret. Because the id and
// timestamp are signed, a receiver that rejects old timestamps (and remembers
// ids it has seen) is protected against replays. During a secret rotation the
// list holds one entry per live secret, so receivers holding either the old
// or the new secret accept it; [SignStandard] and [StandardSignatures] make
// it and [VerifyStandard] checks it.
//
// # Receiving in Go
//
// A Go receiver wraps its handler in a [Middleware]; the handler runs only
// for authentic requests and reads the body as usual:
//
//	h := signature.Middleware{
//		Secrets:          []string{os.Getenv("WEBHOOK_SECRET")},
//		RequireTimestamp: true, // also demand a fresh Standard Webhooks signature
//	}.Wrap(handleEvent)
//	http.Handle("POST /webhooks/trackelio", h)
//
// During a rotation list the new secret first and the old one after it, and
// drop the old one once the grace period is over.
//
// # Compatibility
//
// signature and client are the module's public packages; both need only
// the standard library. Their exported API only grows (nothing is removed,
// renamed or changes meaning), and the two schemes are fixed: what a
// verifier accepts today it accepts from every later delivery. A new scheme
// would come under new header names, beside these.
package signature

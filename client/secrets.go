package client

import (
	"context"
	"net/http"
	"time"
)

// GetWebhookSecret reads the secret that signs a webhook's deliveries.
func (c *Client) GetWebhookSecret(ctx context.Context, webhookID string) (string, error) {
	path, err := pathOf("webhooks", webhookID, "secret")
	if err != nil {
		return "", err
	}
	var out struct {
		Secret string `json:"secret"`
	}
	_, err = c.do(ctx, call{method: http.MethodGet, path: path, idempotent: true}, &out)
	return out.Secret, err
}

// DefaultGracePeriod is the API's usual grace period for a rotated secret.
const DefaultGracePeriod = 24 * time.Hour

// SecretRotation is the answer to RotateWebhookSecret.
type SecretRotation struct {
	// Secret is the new secret; X-Trackelio-Signature uses it at once.
	Secret string `json:"secret"`
	// PreviousSecretExpiresAt is when the old secret stops signing
	// (webhook-signature carries both until then).
	PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at"`
}

// RotateWebhookSecret issues a new secret for a webhook; the old one keeps
// signing for grace (0 to 168h; DefaultGracePeriod is the API's default, 0
// retires it at once). Each call issues another secret, so it is retried
// only when the API certainly did not act (see the package documentation).
func (c *Client) RotateWebhookSecret(ctx context.Context, webhookID string, grace time.Duration) (SecretRotation, error) {
	path, err := pathOf("webhooks", webhookID, "rotate-secret")
	if err != nil {
		return SecretRotation{}, err
	}
	body := struct {
		GracePeriod string `json:"grace_period"`
	}{grace.String()}
	var out SecretRotation
	_, err = c.do(ctx, call{method: http.MethodPost, path: path, body: body}, &out)
	return out, err
}

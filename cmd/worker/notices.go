package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/cmd/internal/boot"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/destination"
	"github.com/trackelio/webhooks/internal/mailer"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/jobs"
	"github.com/trackelio/webhooks/metrics"
	"github.com/trackelio/webhooks/repo"
	"github.com/trackelio/webhooks/signature"
)

// notices is the configuration of failure notices: when they are decided,
// and where they go.
type notices struct {
	Policy       delivery.NoticePolicy
	DigestWindow time.Duration
	// PublicURL is where the links in notices point (the api's PUBLIC_URL).
	PublicURL string
	// Mail is the SMTP relay; nil sends no mail.
	Mail *mailer.Config
	// Operational are the operator's endpoints for operational webhooks.
	Operational []repo.OperationalEndpoint
}

// loadNotices reads the NOTIFY_*, SMTP_*, PUBLIC_URL and OPERATIONAL_*
// settings. A refused setting stops the start: a typo must not silently
// leave the owners of failing webhooks uninformed.
func loadNotices(env *boot.Env, getenv func(string) string, guard *destination.Guard) notices {
	n := notices{
		Policy: delivery.NoticePolicy{
			FailingAfter: env.Int("NOTIFY_FAILING_AFTER", 5),
			FailingFor:   env.Duration("NOTIFY_FAILING_FOR", 15*time.Minute),
			AtRiskAt:     env.Float("NOTIFY_AT_RISK_AT", 0.8),
		},
		DigestWindow: env.Duration("NOTIFY_DIGEST_WINDOW", time.Minute),
		PublicURL:    strings.TrimSuffix(getenv("PUBLIC_URL"), "/"),
	}
	if n.Policy.FailingAfter < 0 || n.Policy.FailingFor < 0 {
		env.Check("NOTIFY_FAILING_AFTER", fmt.Errorf("NOTIFY_FAILING_AFTER (0 turns health notices off) and NOTIFY_FAILING_FOR must not be negative"))
	}
	if n.Policy.AtRiskAt < 0 || n.Policy.AtRiskAt >= 1 {
		env.Check("NOTIFY_AT_RISK_AT", fmt.Errorf("must be a share of WEBHOOK_DISABLE_AFTER from 0 (no warning) to below 1, like 0.8"))
	}
	if n.DigestWindow < time.Second || n.DigestWindow > time.Hour {
		env.Check("NOTIFY_DIGEST_WINDOW", fmt.Errorf("must be from 1s to 1h"))
	}
	if n.PublicURL != "" {
		if u, err := url.Parse(n.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			env.Check("PUBLIC_URL", fmt.Errorf("want the dashboard's public address, like https://webhooks.example.com"))
		}
	}
	if raw := getenv("SMTP_URL"); raw != "" {
		cfg, err := mailer.Parse(raw, getenv("SMTP_FROM"))
		env.Check("SMTP_URL", err)
		if f := getenv("SMTP_CA_FILE"); f != "" {
			pool, err := trustedRoots(f)
			env.Check("SMTP_CA_FILE", err)
			cfg.RootCAs = pool
		}
		if n.PublicURL == "" {
			env.Check("SMTP_URL", fmt.Errorf("mail needs PUBLIC_URL: every mail links to the dashboard and to its unsubscribe page"))
		}
		n.Mail = &cfg
	}
	ops, err := operationalEndpoints(getenv("OPERATIONAL_WEBHOOK_URL"), getenv("OPERATIONAL_WEBHOOK_SECRET"), guard)
	env.Check("OPERATIONAL_WEBHOOK_URL", err)
	n.Operational = ops
	return n
}

// operationalEndpoints reads the comma-separated operational webhook URLs
// and their secrets: one secret for all, or one per URL in the same order.
// Each URL passes the destination guard, as a customer's would; each
// secret is a Standard Webhooks secret, which both signatures use.
func operationalEndpoints(urls, secrets string, guard *destination.Guard) ([]repo.OperationalEndpoint, error) {
	if urls == "" {
		if secrets != "" {
			return nil, fmt.Errorf("OPERATIONAL_WEBHOOK_SECRET is set without a URL")
		}
		return nil, nil
	}
	us, ss := splitList(urls), splitList(secrets)
	switch {
	case len(ss) == 0:
		return nil, fmt.Errorf("needs OPERATIONAL_WEBHOOK_SECRET, a secret like whsec_$(head -c 32 /dev/urandom | base64)")
	case len(ss) != 1 && len(ss) != len(us):
		return nil, fmt.Errorf("%d URLs and %d secrets: give one secret for all, or one per URL in the same order", len(us), len(ss))
	}
	out := make([]repo.OperationalEndpoint, len(us))
	for i, u := range us {
		if err := guard.CheckURL(u); err != nil {
			return nil, fmt.Errorf("%q: %w", u, err)
		}
		secret := ss[min(i, len(ss)-1)]
		if _, err := signature.SignStandard(secret, "check", time.Unix(0, 0), nil); err != nil || len(secret) < len("whsec_")+32 {
			return nil, fmt.Errorf("secret %d is not a whsec_ secret of at least 24 random bytes; make one with whsec_$(head -c 32 /dev/urandom | base64)", min(i, len(ss)-1)+1)
		}
		out[i] = repo.OperationalEndpoint{URL: u, Secret: secret}
	}
	return out, nil
}

// splitList splits a comma-separated setting, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// noticeHandlers makes the operational webhooks the configured ones and
// builds the notice handlers, saying once where notices go.
func noticeHandlers(ctx context.Context, cfg config, store *repo.Store, client *asynq.Client, m *metrics.Metrics, log *slog.Logger) (*jobs.NoticeHandlers, error) {
	n := cfg.Notices
	types := make([]string, len(delivery.Notices))
	for i, k := range delivery.Notices {
		types[i] = string(k)
	}
	if _, err := store.EnsureOperational(ctx, n.Operational, types); err != nil {
		return nil, err
	}
	queue := jobs.NewDeliveryQueue(client, m)
	hc := jobs.NoticeConfig{
		Store:        store,
		Publisher:    manage.New(manage.Config{Store: store, Enqueuer: queue, Log: log, Metrics: m, CheckURL: destination.New(cfg.Guard).CheckURL}),
		Queue:        client,
		PublicURL:    n.PublicURL,
		DigestWindow: n.DigestWindow,
		Metrics:      m,
		Log:          log,
	}
	if n.Mail != nil {
		hc.Mailer = mailer.New(*n.Mail)
		log.Info("notice mail goes through the SMTP relay", "relay", n.Mail.Describe())
	} else {
		log.Info("SMTP_URL is not set: no notice is mailed; the dashboard and the operational webhooks still tell")
	}
	if len(n.Operational) > 0 {
		log.Info("operational webhooks configured", "endpoints", len(n.Operational))
	}
	if n.Policy.FailingAfter == 0 {
		log.Info("NOTIFY_FAILING_AFTER is 0: no health notices are decided")
	}
	return jobs.NewNoticeHandlers(hc), nil
}

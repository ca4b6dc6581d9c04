package dashboard_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trackelio/webhooks/internal/dashboard"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/repo"
)

// troubleOf is the trouble section of a webhook's page, "" when it has none.
func troubleOf(p page) string {
	start := strings.Index(p.Body, `<section id="trouble"`)
	if start < 0 {
		return ""
	}
	s := p.Body[start:]
	return s[:strings.Index(s, "</section>")]
}

// A failing or disabled webhook's page opens, above its health and
// charts, with what is wrong, what comes next and what to do; a healthy
// one, or one its owner switched off, has no such section.
func TestWebhookPageSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	disable := delivery.AutoDisable{After: 5 * 24 * time.Hour, MinFailures: 20}
	f := setup(t, func(c *dashboard.Config) { c.AutoDisable = disable })
	ws, _ := f.mustWorkspace(t, "Acme")
	v := f.signedIn(t, ws)
	gaveUp := answered500
	gaveUp.StatusCode, gaveUp.Error = 503, "receiver answered 503 Service Unavailable"
	refused := answered500Retrying
	refused.StatusCode, refused.Error, refused.ResponseBody = 0, "connection refused", nil
	atRisk := func(r repo.AttemptResult) repo.AttemptResult {
		r = told(r)
		r.Notices.AtRiskAt, r.AutoDisable = 0.5, delivery.AutoDisable{After: 4 * time.Hour, MinFailures: 20}
		return r
	}
	tests := []struct {
		name    string
		seed    func(hook repo.Webhook) (lastFailed string)
		off     bool
		texts   []string // nil: no section
		notText []string
	}{
		{"healthy", func(h repo.Webhook) string {
			f.mustDeliver(t, h, "post.created", nil, answered200)
			return ""
		}, false, nil, nil},
		{"switched off by its owner", func(h repo.Webhook) string {
			f.mustDeliver(t, h, "post.created", nil, told(answered500Retrying))
			return ""
		}, true, nil, nil},
		{"failing for three hours", func(h repo.Webhook) string {
			f.mustDeliver(t, h, "post.created", nil, told(ago(answered500Retrying, 3*time.Hour+5*time.Minute)))
			return f.mustDeliver(t, h, "post.created", nil, told(ago(gaveUp, 3*time.Hour)))
		}, false, []string{"This webhook is failing", "Failing since", "(for 3 hours)", "Consecutive failures</dt><dd>2<",
			`class="code fail">503<`, "receiver answered 503 Service Unavailable", "Open the delivery",
			"Next attempt", "1 delivery is waiting", "Will be disabled", "if every attempt fails until then",
			"Fix the endpoint.", "Make https://hook.example/ answer", `<a href="#test">Send test event</a>`,
			"Recover what failed.", "Recover 1 delivery"}, nil},
		{"no answer at all", func(h repo.Webhook) string {
			return f.mustDeliver(t, h, "post.created", nil, told(ago(refused, 10*time.Minute)))
		}, false, []string{"This webhook is failing", "(for 10 minutes)", `title="no response">—</span> <span class="reason-inline">connection refused</span>`,
			"None has run out of attempts yet."}, nil},
		{"at risk", func(h repo.Webhook) string {
			f.mustDeliver(t, h, "post.created", nil, atRisk(ago(answered500Retrying, 3*time.Hour)))
			return f.mustDeliver(t, h, "post.created", nil, atRisk(answered500Retrying))
		}, false, []string{"This webhook is failing and will be disabled soon", `class="trouble trouble-at-risk"`, "2 deliveries are waiting"}, nil},
		{"past the disable delay, short of the failures", func(h repo.Webhook) string {
			return f.mustDeliver(t, h, "post.created", nil, told(ago(answered500Retrying, 6*24*time.Hour)))
		}, false, []string{"(for 6 days)", "Will be disabled</dt><dd>after 19 more failed attempts<"}, nil},
		{"disabled: gone", func(h repo.Webhook) string {
			return f.mustDeliver(t, h, "post.created", nil, told(answered410))
		}, false, []string{"Trackelio disabled this webhook: its endpoint answered 410 Gone", `class="code fail">410<`,
			"A 410 Gone says the endpoint was removed for good", "Re-enable the webhook.", "offers to recover what failed meanwhile (1 delivery so far)",
			`<input type="hidden" name="form" value="enable">`, "Re-enable webhook"},
			// Disabled, it no longer fails nor waits for an attempt.
			[]string{"(for ", "Next attempt", "Will be disabled"}},
		{"disabled: kept failing", func(h repo.Webhook) string {
			r := told(answered500)
			r.AutoDisable = delivery.AutoDisable{MinFailures: 1}
			return f.mustDeliver(t, h, "post.created", nil, r)
		}, false, []string{"Trackelio disabled this webhook: it kept failing", "Disabled</dt>", "Re-enable webhook"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := f.mustWebhook(t, ws, "https://hook.example/", "post.created")
			last := tt.seed(hook)
			if tt.off {
				f.mustTurnOff(t, hook)
			}
			f.catchUp()
			p := v.getOK(t, "/dashboard/webhooks/"+hook.ID)
			section := troubleOf(p)
			if tt.texts == nil {
				if section != "" {
					t.Fatalf("the page has a trouble section:\n%s", section)
				}
				return
			}
			if section == "" {
				t.Fatal("the page says nothing of the trouble")
			}
			if at := strings.Index(p.Body, section); at > strings.Index(p.Body, `id="health"`) || at > strings.Index(p.Body, `id="charts"`) {
				t.Error("the trouble section is not above the health and the charts")
			}
			page{Body: section}.wantHTML(t, tt.texts...)
			page{Body: section}.wantHTML(t, `href="/dashboard/deliveries/`+last+`"`)
			for _, text := range tt.notText {
				if strings.Contains(section, text) {
					t.Errorf("the section shows %q", text)
				}
			}
			// Disabled, only the section offers to re-enable, not the
			// health's callout too.
			if n := strings.Count(p.Body, ">Re-enable webhook<"); n > 1 {
				t.Errorf("%d Re-enable buttons", n)
			}
			if t.Failed() {
				t.Logf("section:\n%s", section)
			}
		})
	}
}

// The last step of a failing webhook's section re-sends what ran out of
// attempts during the streak, through the recovery the offer uses.
func TestRecoverWhatFailedFromTheTroubleSection(t *testing.T) {
	t.Parallel()
	f, _, hook := setupWebhook(t, "https://flaky.example/hook", "post.created")
	waiting := f.mustDeliver(t, hook, "post.created", nil, told(ago(answered500Retrying, time.Hour)))
	failed := f.mustDeliver(t, hook, "post.created", nil, told(answered500))
	f.catchUp()
	v, path := f.signedInTo(t, hook)
	section := troubleOf(v.getOK(t, path))
	form := regexp.MustCompile(`<form method="post" action="` + path + `/recover" class="inline">[\s\S]*?name="since" value="([^"]+)"[\s\S]*?name="until" value="([^"]+)"[\s\S]*?>Recover 1 delivery</button>`).FindStringSubmatch(section)
	if form == nil {
		t.Fatalf("no recovery form in the section:\n%s", section)
	}
	v.post(t, path+"/recover", v.form(t, "since", form[1], "until", form[2])).wantRedirect(t, path+"?notice=recovered#history")
	var redelivered []string
	if err := f.db.Select(&redelivered, `SELECT redelivery_of::text FROM deliveries WHERE redelivery_of IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if len(redelivered) != 1 || redelivered[0] != failed {
		t.Errorf("recovered %v, want the failed delivery %s only (not %s, which waits for its retry)", redelivered, failed, waiting)
	}
}

func TestLasting(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                          "for less than a minute",
		59 * time.Second:           "for less than a minute",
		time.Minute:                "for 1 minute",
		59 * time.Minute:           "for 59 minutes",
		time.Hour:                  "for 1 hour",
		3*time.Hour + time.Minute:  "for 3 hours",
		47 * time.Hour:             "for 47 hours",
		48 * time.Hour:             "for 2 days",
		6*24*time.Hour + time.Hour: "for 6 days",
	} {
		if got := dashboard.Lasting(d); got != want {
			t.Errorf("lasting(%s) = %q, want %q", d, got, want)
		}
	}
}

package noticemail_test

import (
	"fmt"
	"time"

	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/noticemail"
)

func ExampleCompose() {
	since := time.Date(2026, 12, 7, 14, 3, 0, 0, time.UTC)
	disableAt := since.Add(5 * 24 * time.Hour)
	item := noticemail.Item{
		Notice: delivery.NoticeAtRisk,
		Figures: delivery.Figures{
			Webhook:             delivery.NoticeWebhook{ID: "wh_1", URL: "https://example.com/hooks"},
			FailingSince:        &since,
			ConsecutiveFailures: 96,
			DisableAt:           &disableAt,
		},
		At: since.Add(4 * 24 * time.Hour),
	}
	mail := noticemail.Compose("Acme", []noticemail.Item{item}, "https://app.example.com/unsubscribe?token=t")
	fmt.Println(mail.Subject)
	// Output: Webhook will be disabled on 2026-12-12: https://example.com/hooks
}

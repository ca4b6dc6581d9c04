package mailer_test

import (
	"fmt"

	"github.com/trackelio/webhooks/internal/mailer"
)

func ExampleParse() {
	cfg, err := mailer.Parse("smtp://apikey:s%2Fcr%40t@mail.example.com", "Trackelio <notices@example.com>")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Describe())
	// Output: SMTP relay mail.example.com:587 (STARTTLS required, AUTH with a password), from "Trackelio" <notices@example.com>
}

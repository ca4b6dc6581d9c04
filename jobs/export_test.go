package jobs

// Crash stops a WebhookLimits as a killed worker would: no more renewals and no
// shares returned.
func Crash(l *WebhookLimits) {
	l.crashed.Store(true)
	l.Close()
}

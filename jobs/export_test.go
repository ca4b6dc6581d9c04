package jobs

// Crash stops a WebhookLimits as a killed worker would: no more renewals and no
// shares returned.
func Crash(f *WebhookLimits) {
	f.local.mu.Lock()
	for _, e := range f.local.hooks {
		e.leased = 0 // so returnShares has nothing to return
	}
	f.local.mu.Unlock()
	f.Close()
}

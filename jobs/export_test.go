package jobs

// Crash stops a Fairness as a killed worker would: no more renewals and no
// shares returned.
func Crash(f *Fairness) {
	f.local.mu.Lock()
	for _, e := range f.local.hooks {
		e.leased = 0 // so returnShares has nothing to return
	}
	f.local.mu.Unlock()
	f.Close()
}

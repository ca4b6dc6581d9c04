package testproc

// Getenv is an os.Getenv over vars, for the binaries' loadConfig(getenv).
func Getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

package api

// RouteTable lists "METHOD /path" of every route New registers from cfg,
// so the OpenAPI coverage test reads the table itself.
func RouteTable(cfg Config) []string {
	var out []string
	for _, rt := range (&Server{}).routes(cfg) {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

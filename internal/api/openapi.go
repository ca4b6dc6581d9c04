package api

import (
	_ "embed"
	"net/http"
	"slices"
)

// openAPIDoc is the OpenAPI 3.1 description of every route New serves,
// written by hand; the package's tests check it against the routes and
// validate every answer they get against it.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the API's OpenAPI 3.1 document, as GET /v1/openapi.json
// serves it.
func OpenAPI() []byte { return slices.Clone(openAPIDoc) }

// serveOpenAPI serves the document without authentication: it is the
// public contract. It only changes with a deployment, so caches may keep it
// a few minutes.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(openAPIDoc) //nolint:errcheck // the client went away
}

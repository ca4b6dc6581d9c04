package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"

	"github.com/trackelio/webhooks/internal/api"
)

// openAPI is the validator of api/openapi.json, built once per test binary:
// compiling the document's schemas takes a while.
var openAPI = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("parse api/openapi.json: %w", err)
	}
	// Formats are asserted, so an id must be a UUID and a time RFC 3339.
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("build a validator of api/openapi.json: %w", errors.Join(errs...))
	}
	return v, nil
})

// checkAnswer fails the test unless the api's answer to req, whose body was
// read into body, is one api/openapi.json describes for that operation.
func checkAnswer(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	v, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	answer := *resp
	answer.Body = io.NopCloser(bytes.NewReader(body))
	ok, errs := v.ValidateHttpResponse(req, &answer)
	if ok {
		return
	}
	var lines []string
	for _, e := range errs {
		line := e.Message + ": " + e.Reason
		for _, f := range e.SchemaValidationErrors {
			line += fmt.Sprintf("\n    %s (at %s, schema %s)", f.Reason, f.FieldPath, f.KeywordLocation)
		}
		lines = append(lines, line)
	}
	t.Errorf("%s %s answered %d, which api/openapi.json does not allow:\n%s\nbody: %s",
		req.Method, req.URL.RequestURI(), resp.StatusCode, strings.Join(lines, "\n"), body)
}

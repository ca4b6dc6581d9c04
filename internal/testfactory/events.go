package testfactory

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/trackelio/webhooks/internal/catalog"
)

// schemas are compiled once for every test of a package.
var schemas = sync.OnceValue(catalog.MustLoadSchemas)

// Schemas is the catalog's compiled schemas, shared by a test binary.
func Schemas() *catalog.Schemas { return schemas() }

// EventData is the catalog's example data of eventType with extra's keys
// added (or replaced) at its top level: valid data that tests can still
// tell apart. The schemas allow additional properties, so it stays valid
// unless extra replaces a field the schema constrains.
func EventData(tb testing.TB, eventType string, extra map[string]any) string {
	tb.Helper()
	example := schemas().Example(eventType)
	if example == nil {
		tb.Fatalf("testfactory: %q is not a catalog event type", eventType)
	}
	var data map[string]any
	if err := json.Unmarshal(example, &data); err != nil {
		tb.Fatalf("testfactory: the %s example: %v", eventType, err)
	}
	for k, v := range extra {
		data[k] = v
	}
	b, err := json.Marshal(data)
	if err != nil {
		tb.Fatalf("testfactory: encode %s data: %v", eventType, err)
	}
	return string(b)
}

// EventBody is a POST /v1/events body of eventType with EventData's data.
func EventBody(tb testing.TB, eventType string, extra map[string]any) string {
	tb.Helper()
	return `{"type":"` + eventType + `","data":` + EventData(tb, eventType, extra) + `}`
}

package catalog

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schemas are written once, with shared definitions in defs.json, and
// published bundled: each type's schema carries the definitions it uses,
// so a receiver needs that one document only.
//
//go:embed schemas/*.json examples/*.json
var files embed.FS

const (
	schemaBase = "https://webhooks.trackelio.com/schemas/"
	defsRef    = "defs.json#/$defs/"
)

// Contract is one event type's published data contract.
type Contract struct {
	EventType
	// Schema is the JSON Schema (draft 2020-12) of the event's data, with
	// the definitions it uses bundled under $defs.
	Schema json.RawMessage `json:"schema"`
	// Example is a realistic data object that validates against Schema.
	Example json.RawMessage `json:"example"`
}

// Schemas holds every catalog type's compiled schema, the operational
// types' included. Build it once with LoadSchemas; it is safe for
// concurrent use.
type Schemas struct {
	contracts []Contract
	compiled  map[string]*jsonschema.Schema
}

// LoadSchemas bundles and compiles the embedded schemas. Formats (date-time,
// email, uri) are asserted, so receivers can parse what the schema names.
func LoadSchemas() (*Schemas, error) {
	defsDoc, err := readJSON("schemas/defs.json")
	if err != nil {
		return nil, err
	}
	defs, _ := defsDoc.(map[string]any)["$defs"].(map[string]any)
	every := slices.Concat(customerTypes, operationalTypes)
	s := &Schemas{compiled: make(map[string]*jsonschema.Schema, len(every))}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, t := range every {
		doc, err := readJSON("schemas/" + t.Type + ".json")
		if err != nil {
			return nil, err
		}
		bundled, err := bundle(doc.(map[string]any), defs)
		if err != nil {
			return nil, fmt.Errorf("catalog: bundle the %s schema: %w", t.Type, err)
		}
		url := schemaBase + t.Type + ".json"
		if err := c.AddResource(url, bundled); err != nil {
			return nil, fmt.Errorf("catalog: add the %s schema: %w", t.Type, err)
		}
		compiled, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("catalog: compile the %s schema: %w", t.Type, err)
		}
		schemaJSON, err := json.Marshal(bundled)
		if err != nil {
			return nil, fmt.Errorf("catalog: encode the %s schema: %w", t.Type, err)
		}
		example, err := files.ReadFile("examples/" + t.Type + ".json")
		if err != nil {
			return nil, fmt.Errorf("catalog: read the %s example: %w", t.Type, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, example); err != nil {
			return nil, fmt.Errorf("catalog: the %s example: %w", t.Type, err)
		}
		s.compiled[t.Type] = compiled
		s.contracts = append(s.contracts, Contract{EventType: t, Schema: schemaJSON, Example: compact.Bytes()})
	}
	return s, nil
}

// MustLoadSchemas is LoadSchemas for a process's start. The schemas are
// embedded and the package's tests compile them, so a failure here is a
// build that should not have shipped.
func MustLoadSchemas() *Schemas {
	s, err := LoadSchemas()
	if err != nil {
		panic(err)
	}
	return s
}

// Contracts returns every type's contract: the customer types in
// documentation order, then the operational types in theirs.
func (s *Schemas) Contracts() []Contract {
	return append([]Contract(nil), s.contracts...)
}

// Example returns a valid data object for a catalog type, or nil for a
// type not in the catalog.
func (s *Schemas) Example(eventType string) json.RawMessage {
	for _, c := range s.contracts {
		if c.Type == eventType {
			return c.Example
		}
	}
	return nil
}

// Validate checks data against the schema of eventType, a catalog type. It
// returns a *DataError naming the first refused field, or an error for a
// type outside the catalog. It parses data whole: data from outside passes
// CheckShape first, which bounds what that costs.
func (s *Schemas) Validate(eventType string, data []byte) error {
	sch, ok := s.compiled[eventType]
	if !ok {
		return fmt.Errorf("catalog: no schema for event type %q", eventType)
	}
	// UnmarshalJSON keeps numbers as json.Number, so integers beyond
	// float64's precision are judged as written.
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &DataError{Message: "data is not valid JSON: " + err.Error()}
	}
	if err := sch.Validate(v); err != nil {
		return firstError(err)
	}
	return nil
}

func readJSON(name string) (any, error) {
	raw, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("catalog: read %s: %w", name, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("catalog: parse %s: %w", name, err)
	}
	return v, nil
}

// bundle rewrites doc's references into defs.json to local ones and copies
// the definitions they reach, transitively, under doc's $defs.
func bundle(doc map[string]any, defs map[string]any) (map[string]any, error) {
	used := map[string]any{}
	var missing []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				ref, isRef := child.(string)
				if k == "$ref" && isRef {
					name, external := strings.CutPrefix(ref, defsRef)
					local, internal := strings.CutPrefix(ref, "#/$defs/")
					switch {
					case external:
						v[k] = "#/$defs/" + name
					case internal:
						name = local
					default:
						continue
					}
					if _, seen := used[name]; seen {
						continue
					}
					def, ok := defs[name]
					if !ok {
						if external {
							missing = append(missing, name)
						}
						continue
					}
					used[name] = def
					walk(def)
					continue
				}
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
	if len(missing) > 0 {
		return nil, fmt.Errorf("no definition %s in defs.json", strings.Join(missing, ", "))
	}
	if len(used) > 0 {
		doc["$defs"] = used
	}
	return doc, nil
}

package catalog

import (
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// DataError is event data refused by its type's schema or by CheckShape.
type DataError struct {
	// Pointer is the JSON pointer (RFC 6901) of the refused value within
	// the data, "" for the data itself.
	Pointer string
	Message string
}

func (e *DataError) Error() string { return e.Message }

// firstError reduces a validation failure to one field: of the innermost
// failures, the one whose pointer sorts first. The validator walks object
// properties in map order, so sorting is what makes the answer the same
// for the same payload every time.
func firstError(err error) error {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("catalog: validate: %w", err)
	}
	english := message.NewPrinter(language.English)
	var best *DataError
	for _, leaf := range leaves(ve) {
		d := describe(leaf, english)
		if best == nil || d.Pointer < best.Pointer {
			best = d
		}
	}
	return best
}

// leaves returns the failures that have no causes of their own: the
// specific refusals rather than the "validation failed" groups above them.
func leaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func describe(ve *jsonschema.ValidationError, p *message.Printer) *DataError {
	path := ve.InstanceLocation
	if req, ok := ve.ErrorKind.(*kind.Required); ok && len(req.Missing) > 0 {
		// A missing property is reported on its parent; name the property.
		p := pointer(append(append([]string(nil), path...), req.Missing[0]))
		return &DataError{Pointer: p, Message: "data" + p + " is required"}
	}
	at := pointer(path)
	return &DataError{Pointer: at, Message: "data" + at + ": " + ve.ErrorKind.LocalizedString(p)}
}

// pointer encodes a path as a JSON pointer, escaping "~" and "/".
func pointer(path []string) string {
	var b strings.Builder
	for _, tok := range path {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

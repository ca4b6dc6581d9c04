package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxJSONBody bounds management request bodies; events have their own limit.
const maxJSONBody = 64 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

// decodeJSON strictly decodes exactly one JSON object of at most limit bytes:
// anything but an object, invalid UTF-8, unknown fields, a field given twice
// and trailing data are refused, so typos do not pass silently and stored
// bodies stay valid.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	return decodeBody(w, r, limit, v, false)
}

// decodeOptionalJSON is decodeJSON for routes whose body may be left out
// (empty, whatever the transfer encoding).
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	return decodeBody(w, r, limit, v, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return decodeError(err, limit)
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 && optional {
		return nil
	}
	if len(trimmed) > 0 && trimmed[0] != '{' {
		return &Error{Status: http.StatusBadRequest, Code: codeInvalidJSON, Message: "request body must be a JSON object"}
	}
	if !utf8.Valid(body) {
		return &Error{Status: http.StatusBadRequest, Code: codeInvalidJSON, Message: "request body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: http.StatusBadRequest, Code: codeInvalidJSON, Message: "request body must hold a single JSON object and nothing after it"}
	}
	if name, first, ok := repeatedField(body); ok {
		if name == first {
			return invalid(name, fmt.Sprintf("field %q given twice", name))
		}
		return invalid(name, fmt.Sprintf("field %q given twice: %q is the same field, names match regardless of case", name, first))
	}
	return nil
}

// repeatedField finds the first member of the JSON object body whose name
// an earlier member, first, already has, compared as encoding/json matches
// names to fields: regardless of case. encoding/json keeps the last, so a
// request could otherwise be checked by one reader as saying one thing and
// by another as saying the other. body must be valid JSON, as decodeBody
// has checked; the members' values are stepped over by counting brackets,
// so a value nested thousands deep costs no more than a flat one.
func repeatedField(body []byte) (name, first string, found bool) {
	var seen []string
	i := skipSpace(body, 0) + 1 // past the object's '{'
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return "", "", false // its '}'
		}
		end := stringEnd(body, i)
		if err := json.Unmarshal(body[i:end], &name); err != nil {
			return "", "", false
		}
		for _, s := range seen {
			if strings.EqualFold(s, name) {
				return name, s, true
			}
		}
		seen = append(seen, name)
		i = valueEnd(body, skipSpace(body, end)+1) // past the ':'
		if i = skipSpace(body, i); i < len(body) && body[i] == ',' {
			i++
		}
	}
}

// valueEnd returns the index just after the valid JSON value at or after
// b[i] (its surrounding space aside).
func valueEnd(b []byte, i int) int {
	depth := 0
	for i = skipSpace(b, i); i < len(b); i++ {
		switch b[i] {
		case '"':
			i = stringEnd(b, i) - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object: a scalar ended
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return len(b)
}

// stringEnd returns the index just after the JSON string starting at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func decodeError(err error, limit int64) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: codePayloadTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Code: codeInvalidJSON, Message: "request body is not valid JSON: " + err.Error()}
	case errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Code: codeInvalidJSON, Message: "request body is empty; a JSON object is required"}
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return &Error{Status: http.StatusBadRequest, Code: codeInvalidJSON, Message: "request body must be a JSON object"}
		}
		return invalid(typeErr.Field, fmt.Sprintf("%s must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(field, fmt.Sprintf("unknown field %q", field))
	default:
		return &Error{Status: http.StatusBadRequest, Code: codeInvalidJSON, Message: "request body is not valid JSON: " + err.Error()}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	default:
		return "number"
	}
}

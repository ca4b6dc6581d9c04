package client_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// wantFields checks that the api's JSON object raw has exactly the members
// that v's type names, but for the optional ones, which it may lack: the
// client's types mirror the api, inventing nothing and missing nothing.
func wantFields(tb testing.TB, raw json.RawMessage, v any, optional ...string) {
	tb.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		tb.Fatalf("not a JSON object: %v: %s", err, raw)
	}
	var got, want []string
	for k := range obj {
		got = append(got, k)
	}
	for _, name := range jsonNames(reflect.TypeOf(v)) {
		if _, ok := obj[name]; ok || !slices.Contains(optional, name) {
			want = append(want, name)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("members of %T (-client +api):\n%s\nbody: %s", v, diff, raw)
	}
}

// jsonNames lists the JSON member names of a struct type, those of its
// embedded structs included, as encoding/json names them.
func jsonNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			names = append(names, jsonNames(f.Type)...)
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// member returns the member key of the JSON object raw.
func member(tb testing.TB, raw json.RawMessage, key string) json.RawMessage {
	tb.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj[key] == nil {
		tb.Fatalf("no member %q in %s (%v)", key, raw, err)
	}
	return obj[key]
}

// first returns the first element of the JSON array raw.
func first(tb testing.TB, raw json.RawMessage) json.RawMessage {
	tb.Helper()
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil || len(arr) == 0 {
		tb.Fatalf("not a non-empty array: %s (%v)", raw, err)
	}
	return arr[0]
}

package catalog_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/catalog"
)

// nested is inner inside n arrays.
func nested(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

func TestCheckShape(t *testing.T) {
	longKey := strings.Repeat("k", 600)
	tests := []struct {
		name string
		data string
		want *catalog.DataError // nil: accepted
	}{
		{"an event's data", `{"post":{"id":"p","author":{"id":"u"},"tags":["a",{"b":null}]},"n":-1.5e+3}`, nil},
		{"whitespace everywhere", " {\n\t\"a\" : [ 1 , { } , [ ] ] , \"b\" : true\r} ", nil},
		{"every scalar", `{"s":"\"\\\/\b\f\n\r\t\u00e9 😀","t":true,"f":false,"n":null,"z":0,"big":123456789012345678901234567890,"e":1E-2}`, nil},
		{"32 levels, data itself the first", `{"deep":` + nested(31, "1") + `}`, nil},
		{"the same key in sibling objects", `{"a":{"id":1},"b":{"id":2},"c":[{"id":3},{"id":4}]}`, nil},
		{"keys differing in case or in form", `{"k":1,"K":2,"é":3,"e\u0301":4}`, nil},

		{"33 levels", `{"deep":` + nested(32, "1") + `}`,
			&catalog.DataError{Pointer: "/deep" + strings.Repeat("/0", 31),
				Message: "data/deep" + strings.Repeat("/0", 31) + ": objects and arrays nested more than 32 levels deep"}},
		{"5,000 levels", `{"deep":` + nested(5000, "1") + `}`,
			&catalog.DataError{Pointer: "/deep" + strings.Repeat("/0", 31),
				Message: "data/deep" + strings.Repeat("/0", 31) + ": objects and arrays nested more than 32 levels deep"}},
		{"too deep in the second element", `{"a":[0,` + nested(31, "") + `]}`,
			&catalog.DataError{Pointer: "/a/1" + strings.Repeat("/0", 30),
				Message: "data/a/1" + strings.Repeat("/0", 30) + ": objects and arrays nested more than 32 levels deep"}},
		{"a pointer with long keys is cut to an ancestor", `{"` + longKey + `":{"x":` + nested(31, "") + `}}`,
			&catalog.DataError{Pointer: "",
				Message: "data: objects and arrays nested more than 32 levels deep"}},

		{"a duplicate key", `{"id":"n1","score":11,"score":9,"respondent":{"id":"u"}}`,
			&catalog.DataError{Pointer: "/score", Message: `data/score: duplicate key "score"`}},
		{"a duplicate written with an escape", `{"a":1,"\u0061":2}`,
			&catalog.DataError{Pointer: "/a", Message: `data/a: duplicate key "a"`}},
		{"lone surrogates read as U+FFFD, as Go reads them", `{"\ud800":1,"\udc00":2}`,
			&catalog.DataError{Pointer: "/\ufffd", Message: `data/` + "\ufffd" + `: duplicate key "` + "\ufffd" + `"`}},
		{"a nested duplicate", `{"post":{"author":{"id":"u","name":"N","id":"v"}}}`,
			&catalog.DataError{Pointer: "/post/author/id", Message: `data/post/author/id: duplicate key "id"`}},
		{"a duplicate in an array's object", `{"tags":[{"a":1},{"a":1,"a":2}]}`,
			&catalog.DataError{Pointer: "/tags/1/a", Message: `data/tags/1/a: duplicate key "a"`}},
		{"a duplicate key with / and ~", `{"a/b~":1,"a/b~":2}`,
			&catalog.DataError{Pointer: "/a~1b~0", Message: `data/a~1b~0: duplicate key "a/b~"`}},
		{"the first problem wins", `{"a":1,"a":2,"deep":` + nested(40, "") + `}`,
			&catalog.DataError{Pointer: "/a", Message: `data/a: duplicate key "a"`}},
		{"a long duplicate key is named in short", `{"` + longKey + `":1,"` + longKey + `":2}`,
			&catalog.DataError{Pointer: "", Message: `data: duplicate key "` + strings.Repeat("k", 64) + `…"`}},

		{"not JSON", `{"comment":`, &catalog.DataError{Message: "data is not valid JSON: unexpected end at byte 11"}},
		{"empty", ``, &catalog.DataError{Message: "data is not valid JSON: unexpected end at byte 0"}},
		{"a trailing comma", `{"a":1,}`, &catalog.DataError{Message: `data is not valid JSON: want a key, got '}' at byte 7`}},
		{"a missing colon", `{"a" 1}`, &catalog.DataError{Message: `data is not valid JSON: want ':', got '1' at byte 5`}},
		{"two values", `{} {}`, &catalog.DataError{Message: `data is not valid JSON: want the end, got '{' at byte 3`}},
		{"a leading zero", `{"n":01}`, &catalog.DataError{Message: `data is not valid JSON: want ',' or '}', got '1' at byte 6`}},
		{"a bad escape", `{"s":"\x"}`, &catalog.DataError{Message: `data is not valid JSON: invalid escape at byte 6`}},
		{"a control character", "{\"s\":\"\n\"}", &catalog.DataError{Message: `data is not valid JSON: control character in a string at byte 6`}},
		{"a bad literal", `{"b":tru}`, &catalog.DataError{Message: `data is not valid JSON: invalid value at byte 5`}},
		{"a bad number", `{"n":1.}`, &catalog.DataError{Message: `data is not valid JSON: invalid value at byte 5`}},
		{"a bare word", `{"b":x}`, &catalog.DataError{Message: `data is not valid JSON: want a value, got 'x' at byte 5`}},
		{"not UTF-8", "{\"s\":\"\xff\"}", &catalog.DataError{Message: "data is not valid UTF-8 at byte 6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, catalog.CheckShape([]byte(tt.data))); diff != "" {
				t.Errorf("CheckShape (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckShapeOfDeepDataIsCheap: data nesting 5,000 levels deep in 10 KB
// is refused after reading 32 levels, in a few allocations for the error.
func TestCheckShapeOfDeepDataIsCheap(t *testing.T) {
	deep := []byte(`{"deep":` + nested(5000, "1") + `}`)
	const maxBytes = 4 << 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 100
	for range runs {
		if catalog.CheckShape(deep) == nil {
			t.Fatal("5,000 levels accepted")
		}
	}
	runtime.ReadMemStats(&after)
	perCall := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("CheckShape of %d bytes nesting 5,000 levels: %d bytes allocated per call", len(deep), perCall)
	if perCall > maxBytes {
		t.Errorf("CheckShape allocated %d bytes per call, want at most %d", perCall, maxBytes)
	}
}

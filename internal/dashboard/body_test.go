package dashboard

import (
	"strings"
	"testing"
)

func TestNewBodyView(t *testing.T) {
	t.Parallel()
	deep := `{"id":"e1","data":{"deep":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}}`
	big := `{"id":"e1","data":{"text":"` + strings.Repeat("a", prettyMaxInput) + `"}}`
	huge := `{"data":"` + strings.Repeat("b", 2*rawShown) + `"}`
	tests := []struct {
		name   string
		body   string
		pretty string // "" when the body must not be indented
		notice string // part of the notice
		raw    string
		cut    bool
	}{
		{"an event is indented", `{"id":"e1","data":{"a":[1,2]}}`, "{\n  \"id\": \"e1\",\n  \"data\": {\n    \"a\": [\n      1,\n      2\n    ]\n  }\n}", "", `{"id":"e1","data":{"a":[1,2]}}`, false},
		{"5,000 levels are shown as sent", deep, "", "deeper than 32 levels", deep, false},
		{"a repeated key is shown as sent", `{"data":{"a":1,"a":2}}`, "", "not plain JSON", `{"data":{"a":1,"a":2}}`, false},
		{"not JSON is shown as sent", `not json`, "", "not plain JSON", `not json`, false},
		{"over 64 KiB is not indented", big, "", "The body is 65 KiB", big[:rawShown], true},
		{"the raw view is cut at 64 KiB", huge, "", "The body is 129 KiB", huge[:rawShown], true},
	}
	for _, tt := range tests {
		got := newBodyView([]byte(tt.body))
		if got.Pretty != tt.pretty || !strings.Contains(got.Notice, tt.notice) || (tt.notice == "") != (got.Notice == "") ||
			got.Raw != tt.raw || got.Cut != tt.cut || got.Size != len(tt.body) {
			t.Errorf("%s: newBodyView = pretty %.60q notice %q raw %d bytes cut %v size %d; want pretty %.60q notice %q raw %d bytes cut %v size %d",
				tt.name, got.Pretty, got.Notice, len(got.Raw), got.Cut, got.Size, tt.pretty, tt.notice, len(tt.raw), tt.cut, len(tt.body))
		}
	}
}

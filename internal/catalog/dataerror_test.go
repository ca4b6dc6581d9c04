package catalog

import "testing"

func TestPointer(t *testing.T) {
	tests := []struct {
		path []string
		want string
	}{
		{nil, ""},
		{[]string{"post", "id"}, "/post/id"},
		{[]string{"a/b", "c~d", "0"}, "/a~1b/c~0d/0"},
		{[]string{"~1"}, "/~01"},
	}
	for _, tt := range tests {
		if got := pointer(tt.path); got != tt.want {
			t.Errorf("pointer(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

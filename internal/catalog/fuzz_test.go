package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheckShape holds the scanner to encoding/json: it accepts exactly the
// UTF-8 JSON texts that encoding/json reads with at most MaxDepth levels
// and no object key twice (keys compared as encoding/json decodes them),
// and for valid JSON it names the pointer encoding/json's tokens lead to.
func FuzzCheckShape(f *testing.F) {
	for _, seed := range []string{
		`{"post":{"id":"p","author":{"id":"u"}},"tags":["a",{"b":null}],"n":-1.5e+3}`,
		`{"id":"n1","score":11,"score":9,"respondent":{"id":"u"}}`,
		`{"a":1,"\u0061":2}`,
		`{"\ud800":1,"\udc00":2}`,
		`{"\ud83d\ude00":1,"😀":2}`,
		`{"a/b~":{"x":1,"x":2}}`,
		`{"tags":[{"a":1},{"a":1,"a":2}]}`,
		`{"deep":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
		`{"deep":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`,
		`{"n":01,"m":1.,"e":1e}`,
		`{"s":"\x","t":"` + "\x01\xff" + `"}`,
		`{} {}`,
		` [ true , false , null , "" ] `,
		"\ufeff{}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := CheckShape(data)
		want, ok := referenceShape(t, data)
		if ok != (got == nil) {
			t.Fatalf("CheckShape(%q) = %v; encoding/json says ok = %v", data, got, ok)
		}
		if got == nil {
			return
		}
		if got.Pointer != "" && got.Pointer[0] != '/' || len(got.Pointer) > maxPointerLen {
			t.Fatalf("CheckShape(%q): %q is not a short JSON pointer", data, got.Pointer)
		}
		if want != nil && len(pointer(want)) <= maxPointerLen && got.Pointer != pointer(want) {
			t.Fatalf("CheckShape(%q) refused %q, encoding/json finds the first problem at %q", data, got.Pointer, pointer(want))
		}
	})
}

// refLevel is an open object or array as referenceShape walks it.
type refLevel struct {
	object  bool
	wantKey bool // in an object: the next token is a key or its end
	index   int
	key     string
	seen    map[string]bool
}

// referenceShape judges data with encoding/json: ok, or, for valid UTF-8
// JSON, the path of the first value nested too deep or key repeated.
func referenceShape(t *testing.T, data []byte) (path []string, ok bool) {
	if !utf8.Valid(data) || !json.Valid(data) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var open []*refLevel
	here := func() []string {
		p := make([]string, len(open))
		for i, l := range open {
			p[i] = l.key
			if !l.object {
				p[i] = strconv.Itoa(l.index)
			}
		}
		return p
	}
	valueDone := func() {
		if len(open) == 0 {
			return
		}
		if top := open[len(open)-1]; top.object {
			top.wantKey = true
		} else {
			top.index++
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		if err != nil {
			t.Fatalf("json.Valid(%q) but its tokens fail: %v", data, err)
		}
		if len(open) > 0 && open[len(open)-1].wantKey {
			top := open[len(open)-1]
			if tok == json.Delim('}') {
				open = open[:len(open)-1]
				valueDone()
				continue
			}
			top.key, top.wantKey = tok.(string), false
			if top.seen[top.key] {
				return here(), false
			}
			top.seen[top.key] = true
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(open) == MaxDepth {
				return here(), false
			}
			object := tok == json.Delim('{')
			open = append(open, &refLevel{object: object, wantKey: object, seen: map[string]bool{}})
		case json.Delim(']'):
			open = open[:len(open)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

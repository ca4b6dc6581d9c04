package catalog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds how deeply event data may nest objects and arrays, data
// itself being the first level. The catalog's events nest 3 (data, post,
// author); 32 leaves the app room to grow, while refusing the documents
// whose depth is their only point: 5,000 levels fit in 10 KB, and every
// reader that walks them level by level (the schema, the dashboard, a
// receiver's recursive parser) pays for each one.
const MaxDepth = 32

const (
	// maxPointerLen bounds the pointer a refusal names: a path through
	// long keys is cut to the deepest ancestor that fits, so an error
	// never echoes a body's worth of keys.
	maxPointerLen = 512
	// maxQuotedKey bounds the bytes of a repeated key a message quotes.
	maxQuotedKey = 64
)

// CheckShape checks what all event data must be, whatever its type: UTF-8
// JSON text, objects and arrays nested at most MaxDepth deep, and no key
// twice in one object. Keys are compared as encoding/json decodes them, so
// "a" and "\u0061" are the same key. A repeated key is refused because
// parsers disagree on which value counts: a schema would judge one and a
// receiver act on the other.
//
// It reads data once, without building it, and stops at the first problem
// in document order, a *DataError naming it; nil when there is none. Its
// memory is the keys of the objects open at that point, whatever the
// depth or size of the rest, so it runs before anything parses the
// document whole.
func CheckShape(data []byte) *DataError {
	s := shapeScanner{data: data}
	for {
		if err := s.value(); err != nil {
			return err
		}
		more, err := s.next()
		if err != nil || !more {
			return err
		}
	}
}

// shapeScanner walks a JSON text with an explicit stack of the open
// containers, not recursion, so MaxDepth bounds its memory.
type shapeScanner struct {
	data  []byte
	pos   int
	depth int
	open  [MaxDepth]container
}

// container is an object or array the scanner is inside.
type container struct {
	object bool
	index  int    // the current element's, in an array
	key    string // the current member's, in an object
	// keys are the object's keys so far; the next object at this depth
	// clears and reuses the map.
	keys map[string]struct{}
}

// value scans from the start of a value to the end of its first scalar or
// empty container, entering the containers on the way.
func (s *shapeScanner) value() *DataError {
	for {
		s.skipSpace()
		switch s.peek() {
		case '{', '[':
			empty, err := s.enter()
			if err != nil || empty {
				return err
			}
		default:
			return s.scalar()
		}
	}
}

// enter opens the object or array at pos and scans up to its first value.
// It reports whether the container was empty, which completes the value.
func (s *shapeScanner) enter() (empty bool, err *DataError) {
	if s.depth == MaxDepth {
		return false, s.tooDeep()
	}
	c := &s.open[s.depth]
	c.object, c.index = s.data[s.pos] == '{', 0
	s.depth++
	s.pos++
	s.skipSpace()
	if end := s.peek(); end == '}' && c.object || end == ']' && !c.object {
		s.pos++
		s.depth--
		return true, nil
	}
	if c.object {
		clear(c.keys)
		return false, s.member()
	}
	return false, nil
}

// next scans what follows a complete value: a comma, or the ends of the
// containers the value completes. It reports whether a value follows.
func (s *shapeScanner) next() (bool, *DataError) {
	for {
		s.skipSpace()
		if s.depth == 0 {
			if s.pos < len(s.data) {
				return false, s.unexpected("the end")
			}
			return false, nil
		}
		c := &s.open[s.depth-1]
		switch b := s.peek(); {
		case b == ',':
			s.pos++
			if !c.object {
				c.index++
				return true, nil
			}
			s.skipSpace()
			return true, s.member()
		case b == '}' && c.object, b == ']' && !c.object:
			s.pos++
			s.depth--
		case c.object:
			return false, s.unexpected("',' or '}'")
		default:
			return false, s.unexpected("',' or ']'")
		}
	}
}

// member scans an object member's key and colon, refusing a key the
// object already has.
func (s *shapeScanner) member() *DataError {
	if s.peek() != '"' {
		return s.unexpected("a key")
	}
	key, err := s.key()
	if err != nil {
		return err
	}
	c := &s.open[s.depth-1]
	c.key = key
	if _, seen := c.keys[key]; seen {
		return s.duplicate(key)
	}
	if c.keys == nil {
		c.keys = make(map[string]struct{})
	}
	c.keys[key] = struct{}{}
	s.skipSpace()
	if s.peek() != ':' {
		return s.unexpected("':'")
	}
	s.pos++
	return nil
}

// key scans the string at pos and returns it unescaped.
func (s *shapeScanner) key() (string, *DataError) {
	start := s.pos
	raw, escaped, err := s.str()
	if err != nil {
		return "", err
	}
	if !escaped {
		return string(raw), nil
	}
	// Escaped keys are rare: encoding/json unescapes them exactly as
	// every Go reader of the data will, a lone surrogate becoming U+FFFD.
	var key string
	if err := json.Unmarshal(s.data[start:s.pos], &key); err != nil {
		return "", s.syntaxAt(start, "invalid string")
	}
	return key, nil
}

// str scans the string at pos, returning its raw contents and whether they
// hold an escape.
func (s *shapeScanner) str() (raw []byte, escaped bool, err *DataError) {
	start := s.pos + 1
	for i := start; i < len(s.data); {
		switch b := s.data[i]; {
		case b == '"':
			s.pos = i + 1
			return s.data[start:i], escaped, nil
		case b == '\\':
			n := escapeLen(s.data[i:])
			if n == 0 {
				return nil, false, s.syntaxAt(i, "invalid escape")
			}
			escaped = true
			i += n
		case b < 0x20:
			return nil, false, s.syntaxAt(i, "control character in a string")
		case b < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(s.data[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, &DataError{Message: fmt.Sprintf("data is not valid UTF-8 at byte %d", i)}
			}
			i += size
		}
	}
	return nil, false, s.syntaxAt(len(s.data), "unexpected end")
}

// escapeLen is the length of the escape sequence b starts with, 0 when it
// is not one JSON allows.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) < 6 {
			return 0
		}
		for _, h := range b[2:6] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return 0
			}
		}
		return 6
	}
	return 0
}

// scalar scans the string, number or literal at pos.
func (s *shapeScanner) scalar() *DataError {
	switch b := s.peek(); {
	case b == '"':
		_, _, err := s.str()
		return err
	case b == 't':
		return s.literal("true")
	case b == 'f':
		return s.literal("false")
	case b == 'n':
		return s.literal("null")
	case b == '-' || '0' <= b && b <= '9':
		return s.number()
	case s.pos == len(s.data):
		return s.syntaxAt(s.pos, "unexpected end")
	default:
		return s.unexpected("a value")
	}
}

func (s *shapeScanner) literal(word string) *DataError {
	if end := s.pos + len(word); end > len(s.data) || string(s.data[s.pos:end]) != word {
		return s.syntaxAt(s.pos, "invalid value")
	}
	s.pos += len(word)
	return nil
}

// number scans a number as RFC 8259 writes it:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *shapeScanner) number() *DataError {
	start, i := s.pos, s.pos
	if s.data[i] == '-' {
		i++
	}
	switch {
	case i < len(s.data) && s.data[i] == '0':
		i++
	case i < len(s.data) && '1' <= s.data[i] && s.data[i] <= '9':
		i = s.digits(i)
	default:
		return s.syntaxAt(start, "invalid value")
	}
	if i < len(s.data) && s.data[i] == '.' {
		frac := i + 1
		if i = s.digits(frac); i == frac {
			return s.syntaxAt(start, "invalid value")
		}
	}
	if i < len(s.data) && (s.data[i] == 'e' || s.data[i] == 'E') {
		i++
		if i < len(s.data) && (s.data[i] == '+' || s.data[i] == '-') {
			i++
		}
		exp := i
		if i = s.digits(i); i == exp {
			return s.syntaxAt(start, "invalid value")
		}
	}
	s.pos = i
	return nil
}

// digits returns the index after the run of digits at i.
func (s *shapeScanner) digits(i int) int {
	for i < len(s.data) && '0' <= s.data[i] && s.data[i] <= '9' {
		i++
	}
	return i
}

func (s *shapeScanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the byte at pos, 0 at the end.
func (s *shapeScanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// path is the path of the value being scanned: the current member or
// element of each open container.
func (s *shapeScanner) path() []string {
	p := make([]string, s.depth)
	for i, c := range s.open[:s.depth] {
		if c.object {
			p[i] = c.key
		} else {
			p[i] = strconv.Itoa(c.index)
		}
	}
	return p
}

func (s *shapeScanner) tooDeep() *DataError {
	at := shortPointer(s.path())
	return &DataError{Pointer: at, Message: fmt.Sprintf("data%s: objects and arrays nested more than %d levels deep", at, MaxDepth)}
}

func (s *shapeScanner) duplicate(key string) *DataError {
	at := shortPointer(s.path())
	if len(key) > maxQuotedKey {
		cut := maxQuotedKey
		for cut > 0 && !utf8.RuneStart(key[cut]) {
			cut--
		}
		key = key[:cut] + "…"
	}
	return &DataError{Pointer: at, Message: "data" + at + ": duplicate key " + strconv.Quote(key)}
}

// unexpected refuses the byte at pos where want was due.
func (s *shapeScanner) unexpected(want string) *DataError {
	if s.pos == len(s.data) {
		return s.syntaxAt(s.pos, "unexpected end")
	}
	return s.syntaxAt(s.pos, fmt.Sprintf("want %s, got %q", want, rune(s.data[s.pos])))
}

func (s *shapeScanner) syntaxAt(i int, problem string) *DataError {
	return &DataError{Message: fmt.Sprintf("data is not valid JSON: %s at byte %d", problem, i)}
}

// shortPointer is the pointer of path, or of its deepest ancestor whose
// pointer is at most maxPointerLen bytes.
func shortPointer(path []string) string {
	n, size := 0, 0
	for ; n < len(path); n++ {
		size += 1 + len(path[n]) + strings.Count(path[n], "~") + strings.Count(path[n], "/")
		if size > maxPointerLen {
			break
		}
	}
	return pointer(path[:n])
}

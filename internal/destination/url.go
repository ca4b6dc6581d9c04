package destination

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxURLLen is the longest webhook URL CheckURL accepts, in bytes.
const MaxURLLen = 2048

// invalidURLError is a customer-readable reason a URL was refused; it
// wraps ErrInvalidURL.
type invalidURLError string

func (e invalidURLError) Error() string { return string(e) }
func (e invalidURLError) Unwrap() error { return ErrInvalidURL }

// CheckURL validates a webhook URL when it is created, and before each
// attempt (so a URL stored before a rule existed is held to it): at most
// MaxURLLen bytes, only the characters RFC 3986 allows, http or https (only
// https with HTTPSOnly), a host, no user info, and a port the port rule
// allows (see refusedPorts). A host that is an IP address in any spelling
// resolvers accept (dotted, bracketed IPv6 with or without a zone,
// IPv4-mapped, and the inet_aton forms "2130706433", "0177.0.0.1",
// "0x7f.1", "127.1") is checked with CheckIP; names are not resolved here,
// DialContext checks them. A refused address or port gives an error
// wrapping ErrBlocked (a *PortError for a port), anything else one wrapping
// ErrInvalidURL; the messages are fit to show the customer.
func (g *Guard) CheckURL(raw string) error {
	if len(raw) > MaxURLLen {
		return invalidURLError("url must be at most " + strconv.Itoa(MaxURLLen) + " bytes")
	}
	if err := checkChars(raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalidURLError("url is not valid")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && g.httpsOnly:
		return invalidURLError("url must use https")
	case u.Scheme == "http":
	case g.httpsOnly:
		return invalidURLError("url must use https")
	default:
		return invalidURLError("url must use http or https")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return invalidURLError("url must have a host")
	}
	if u.User != nil {
		return invalidURLError("url must not contain a user name or password")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return invalidURLError("url port must be between 1 and 65535")
		}
		if !portAllowed(int(n)) {
			return &PortError{Port: int(n)}
		}
	}
	host := u.Hostname()
	ip, ok := parseIPLiteral(host)
	if !ok {
		if strings.Contains(host, ":") || endsInNumber(host) {
			return invalidURLError("url host is not a valid name or IP address")
		}
		return nil
	}
	return g.check(host, ip)
}

// uriChars marks the ASCII characters RFC 3986 allows in a URI: unreserved,
// reserved, and "%", which must begin a percent-encoded octet.
var uriChars = func() (set [utf8.RuneSelf]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~" + // unreserved
		":/?#[]@" + "!$&'()*+,;=" + // reserved: gen-delims and sub-delims
		"%" {
		set[c] = true
	}
	return set
}()

// charNames names the printable ASCII characters RFC 3986 leaves out.
var charNames = map[rune]string{
	' ':  "a space",
	'"':  `a double quote (")`,
	'<':  "a less-than sign (<)",
	'>':  "a greater-than sign (>)",
	'\\': `a backslash (\)`,
	'^':  "a caret (^)",
	'`':  "a backtick (`)",
	'{':  "an opening brace ({)",
	'}':  "a closing brace (})",
	'|':  "a vertical bar (|)",
}

// checkChars refuses a URL holding a character RFC 3986 does not allow. Go
// parses such URLs and sends some parts (the query, for one) as they are,
// so a space would break the request line. The message says what the
// character is, where (counting characters from 1), and how to write it.
func checkChars(raw string) error {
	schemeEnd, hostStart, hostEnd := urlParts(raw)
	pos := 0
	for i, c := range raw {
		pos++
		if c < utf8.RuneSelf && uriChars[c] && (c != '%' || percentEncoded(raw[i:])) {
			continue
		}
		_, size := utf8.DecodeRuneInString(raw[i:])
		what := describeChar(c, size)
		switch {
		case i < schemeEnd:
			return invalidURLError(fmt.Sprintf("url contains %s at position %d", what, pos))
		case i >= hostStart && i < hostEnd && c >= utf8.RuneSelf:
			return invalidURLError(fmt.Sprintf("url host contains %s at position %d; use the punycode (xn--) form of the host name", what, pos))
		case i >= hostStart && i < hostEnd:
			return invalidURLError(fmt.Sprintf("url host contains %s at position %d", what, pos))
		case c == '%':
			return invalidURLError(fmt.Sprintf(`url contains %s at position %d; write a "%%" as %%25`, what, pos))
		}
		return invalidURLError(fmt.Sprintf("url contains %s at position %d; percent-encode it as %s", what, pos, percentEncode(raw[i:i+size])))
	}
	return nil
}

// describeChar names a character checkChars refuses; size is how many
// bytes it takes, which tells a byte that is not UTF-8 from U+FFFD.
func describeChar(c rune, size int) string {
	switch {
	case c == '%':
		return `a "%" not followed by two hex digits`
	case c == utf8.RuneError && size == 1:
		return "a byte that is not UTF-8"
	case c >= utf8.RuneSelf:
		return fmt.Sprintf("the non-ASCII character %q (U+%04X)", string(c), c)
	case charNames[c] != "":
		return charNames[c]
	}
	return fmt.Sprintf("the control character U+%04X", c)
}

// urlParts finds, by byte offsets, where the scheme of a URL not parsed yet
// ends (0 when it has none) and the span of its authority, the user info
// and the host (empty when it has none).
func urlParts(raw string) (schemeEnd, hostStart, hostEnd int) {
	schemeEnd = max(strings.IndexByte(raw, ':'), 0)
	if !strings.HasPrefix(raw[schemeEnd:], "://") {
		return schemeEnd, 0, 0
	}
	hostStart = schemeEnd + len("://")
	hostEnd = len(raw)
	if n := strings.IndexAny(raw[hostStart:], "/?#"); n >= 0 {
		hostEnd = hostStart + n
	}
	return schemeEnd, hostStart, hostEnd
}

// percentEncoded reports whether s begins with "%" and two hex digits.
func percentEncoded(s string) bool {
	isHex := func(b byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", b) >= 0 }
	return len(s) >= 3 && s[0] == '%' && isHex(s[1]) && isHex(s[2])
}

// percentEncode writes every byte of s as "%" and two hex digits.
func percentEncode(s string) string {
	var b strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

// parseIPLiteral reads host as an IP address the way permissive resolvers
// do (getaddrinfo uses inet_aton, and URL hosts go through IDNA mapping):
// strict IPv4 and IPv6 with an optional zone, then with full-width
// characters folded and one trailing dot dropped, the inet_aton forms.
func parseIPLiteral(host string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	h := strings.TrimSuffix(foldHost(host), ".")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip, true
	}
	return inetAton(h)
}

// foldHost maps the full-width forms and ideographic full stops that IDNA
// turns into ASCII (so "１２７。０。０。１" is 127.0.0.1), and lowercases.
func foldHost(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case c >= '！' && c <= '～': // U+FF01..FF5E mirror ASCII 0x21..0x7E
			c -= '！' - '!'
		case c == '。' || c == '｡' || c == '．':
			c = '.'
		}
		return unicode.ToLower(c)
	}, s)
}

// inetAton parses the IPv4 forms of BSD inet_aton: one to four parts
// separated by dots, each decimal, octal (leading 0) or hex (leading 0x);
// the last part fills the remaining bytes, so "127.1" is 127.0.0.1 and
// "2130706433" is too.
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := atonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 0xff {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(4-i)) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func atonPart(p string) (uint64, bool) {
	base := 10
	switch {
	case strings.HasPrefix(p, "0x"), strings.HasPrefix(p, "0X"):
		p, base = p[2:], 16
		if p == "" { // glibc reads a bare "0x" as zero
			return 0, true
		}
	case len(p) > 1 && p[0] == '0':
		p, base = p[1:], 8
	}
	if p == "" || p[0] == '+' || p[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}

// endsInNumber reports whether the last label of host is numeric, as in
// "127.0.0.1.5" or "0x7f.0x1.1.1.1": no real domain ends that way, and a
// resolver may read it as an address, so such hosts must parse as one.
// Digits of any script count, since IDNA may map them to ASCII.
func endsInNumber(host string) bool {
	h := strings.TrimSuffix(foldHost(host), ".")
	last := h[strings.LastIndexByte(h, '.')+1:]
	if strings.HasPrefix(last, "0x") {
		last = last[2:]
		return strings.Trim(last, "0123456789abcdef") == ""
	}
	return last != "" && strings.IndexFunc(last, func(c rune) bool { return !unicode.IsNumber(c) }) < 0
}

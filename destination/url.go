package destination

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// MaxURLLen is the longest webhook URL CheckURL accepts, in bytes.
const MaxURLLen = 2048

// invalidURLError is a customer-readable reason a URL was refused; it
// wraps ErrInvalidURL.
type invalidURLError string

func (e invalidURLError) Error() string { return string(e) }
func (e invalidURLError) Unwrap() error { return ErrInvalidURL }

// CheckURL validates a webhook URL when it is created: http or https (only
// https with HTTPSOnly), a host, no user info, at most MaxURLLen bytes. A
// host that is an IP address in any spelling resolvers accept (dotted,
// bracketed IPv6 with or without a zone, IPv4-mapped, and the inet_aton
// forms "2130706433", "0177.0.0.1", "0x7f.1", "127.1") is checked with
// CheckIP; names are not resolved here, DialContext checks them. A refused
// address gives an error wrapping ErrBlocked, anything else one wrapping
// ErrInvalidURL; both messages are fit to show the customer.
func (g *Guard) CheckURL(raw string) error {
	if len(raw) > MaxURLLen {
		return invalidURLError("url must be at most " + strconv.Itoa(MaxURLLen) + " bytes")
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
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return invalidURLError("url port must be between 1 and 65535")
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

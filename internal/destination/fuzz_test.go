package destination

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzClassify takes 16 bytes as IPv6 or else 4 as IPv4, and bits as the
// length of an allowlist prefix around the address.
func FuzzClassify(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, bits uint8) {
		var ip netip.Addr
		switch {
		case len(b) >= 16:
			ip = netip.AddrFrom16([16]byte(b[:16]))
		case len(b) >= 4:
			ip = netip.AddrFrom4([4]byte(b[:4]))
		default:
			return
		}
		reason, blocked := Classify(ip)
		if blocked != (reason != "") {
			t.Fatalf("Classify(%s) = %q, %v: a refusal needs a reason and only a refusal has one", ip, reason, blocked)
		}
		u := ip.Unmap()
		if ur, ub := Classify(u); ur != reason || ub != blocked {
			t.Fatalf("Classify(%s) = %q, %v but Classify(%s) = %q, %v", ip, reason, blocked, u, ur, ub)
		}
		if ip.Is4() {
			m := netip.AddrFrom16(ip.As16())
			if mr, mb := Classify(m); mr != reason || mb != blocked {
				t.Fatalf("Classify(%s) = %q, %v but mapped Classify(%s) = %q, %v", ip, reason, blocked, m, mr, mb)
			}
		}
		if !blocked && (!u.IsGlobalUnicast() || u.IsPrivate() || u.IsLoopback() ||
			(u.Is6() && !globalUnicast6.Contains(u))) {
			t.Fatalf("Classify(%s) allows an address that is not public global unicast", ip)
		}
		g := New(Config{})
		if err := g.CheckIP(ip); blocked != errors.Is(err, ErrBlocked) || (!blocked && err != nil) {
			t.Fatalf("CheckIP(%s) = %v, Classify blocked = %v", ip, err, blocked)
		}
		if err := g.control("tcp", netip.AddrPortFrom(ip, 443).String(), nil); blocked != (err != nil) {
			t.Fatalf("control(%s) = %v, Classify blocked = %v", ip, err, blocked)
		}
		// An allowlisted address is never refused, whichever form the address
		// and the prefix take.
		allow := []netip.Prefix{netip.PrefixFrom(u, int(bits)%(u.BitLen()+1))}
		if u.Is4() {
			allow = append(allow, netip.PrefixFrom(netip.AddrFrom16(u.As16()), allow[0].Bits()+96))
		}
		for _, p := range allow {
			if err := New(Config{Allow: []netip.Prefix{p}}).CheckIP(ip); err != nil {
				t.Fatalf("CheckIP(%s) with allowlist %s = %v, want nil", ip, p, err)
			}
		}
	})
}

// checkRequestLine fails the test unless an accepted URL becomes a request
// whose request line and Host header hold no space, control or non-ASCII
// byte: what reaches the wire is exactly what was checked.
func checkRequestLine(t *testing.T, raw string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, raw, nil)
	if err != nil {
		t.Fatalf("CheckURL(%q) accepted; http.NewRequest: %v", raw, err)
	}
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatalf("CheckURL(%q) accepted; writing its request: %v", raw, err)
	}
	head, _, _ := strings.Cut(wire.String(), "\r\nUser-Agent:")
	line, host, _ := strings.Cut(head, "\r\nHost: ")
	target, ok := strings.CutPrefix(line, "POST ")
	target, ok2 := strings.CutSuffix(target, " HTTP/1.1")
	visible := func(s string) bool {
		return s != "" && strings.IndexFunc(s, func(c rune) bool { return c <= ' ' || c >= 0x7f }) < 0
	}
	if !ok || !ok2 || !visible(target) || !visible(host) {
		t.Fatalf("CheckURL(%q) accepted; its request begins %q", raw, head)
	}
}

func FuzzCheckURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string, httpsOnly bool) {
		err := New(Config{HTTPSOnly: httpsOnly}).CheckURL(raw)
		if err != nil {
			if errors.Is(err, ErrBlocked) == errors.Is(err, ErrInvalidURL) {
				t.Fatalf("CheckURL(%q) = %v: want exactly one of ErrBlocked, ErrInvalidURL", raw, err)
			}
			if errors.Is(err, ErrBlocked) {
				u, perr := url.Parse(raw)
				if perr != nil {
					t.Fatalf("CheckURL(%q) refused the address of an unparsable url", raw)
				}
				var pe *PortError
				if errors.As(err, &pe) {
					if port, _ := strconv.Atoi(u.Port()); port != pe.Port || portAllowed(port) {
						t.Fatalf("CheckURL(%q) = %v for port %q, which the port rule allows", raw, err, u.Port())
					}
				} else if _, ok := parseIPLiteral(u.Hostname()); !ok {
					t.Fatalf("CheckURL(%q) = %v for a host that is not an address", raw, err)
				}
			}
			return
		}
		if len(raw) > MaxURLLen {
			t.Fatalf("CheckURL accepted %d bytes", len(raw))
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("CheckURL(%q) accepted; url.Parse: %v", raw, perr)
		}
		if port := u.Port(); port != "" {
			if n, _ := strconv.Atoi(port); !portAllowed(n) {
				t.Fatalf("CheckURL(%q) accepted port %s", raw, port)
			}
		}
		checkRequestLine(t, raw)
		if u.Scheme != "https" && (u.Scheme != "http" || httpsOnly) {
			t.Fatalf("CheckURL(%q) accepted scheme %q (https only: %v)", raw, u.Scheme, httpsOnly)
		}
		host := u.Hostname()
		if host == "" || u.User != nil || u.Opaque != "" {
			t.Fatalf("CheckURL(%q) accepted host %q, user %v, opaque %q", raw, host, u.User, u.Opaque)
		}
		if ip, ok := parseIPLiteral(host); ok {
			if reason, blocked := Classify(ip); blocked {
				t.Fatalf("CheckURL(%q) accepted %s (%s)", raw, ip, reason)
			}
		}
		// Cross-check with parsers that are not ours.
		if ip, err := netip.ParseAddr(host); err == nil {
			if reason, blocked := Classify(ip); blocked {
				t.Fatalf("CheckURL(%q) accepted %s (%s)", raw, ip, reason)
			}
		}
		if nip := net.ParseIP(host); nip != nil {
			ip, _ := netip.AddrFromSlice(nip)
			if reason, blocked := Classify(ip); blocked {
				t.Fatalf("CheckURL(%q) accepted %s (%s)", raw, ip, reason)
			}
		}
	})
}

// Package destination guards where webhooks may be sent. It refuses
// loopback, private, link-local, CGNAT, multicast, reserved, documentation
// and cloud-metadata addresses, in IPv4 and IPv6 and in every spelling that
// hides one inside the other. CheckURL vets a URL when a webhook is created;
// DialContext is the authoritative check, made on the resolved addresses at
// dial time and again on the socket's address just before it connects, so a
// name that later resolves (or rebinds) to a refused address is still caught.
// An allowlist opens chosen ranges for development and tests.
package destination

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrBlocked marks a destination refused by the guard, for its address or
// for its port (errors.Is).
var ErrBlocked = errors.New("destination blocked")

// ErrInvalidURL marks a webhook URL that is malformed or not allowed for a
// reason other than its address or port (errors.Is).
var ErrInvalidURL = errors.New("invalid url")

// Config configures a Guard.
type Config struct {
	// Allow lists opened ranges (DELIVERY_ALLOW_CIDRS). An address inside
	// one is never refused. It is matched against the unmapped address, so
	// 127.0.0.0/8 also opens ::ffff:127.0.0.1.
	Allow []netip.Prefix
	// HTTPSOnly refuses plain http URLs (DELIVERY_HTTPS_ONLY).
	HTTPSOnly bool
	// Resolver resolves host names at dial time; nil means
	// net.DefaultResolver.
	Resolver Resolver
}

// Guard checks destinations. It is safe for concurrent use.
type Guard struct {
	allow     []netip.Prefix
	httpsOnly bool
	resolver  Resolver
}

// New returns a Guard for cfg.
func New(cfg Config) *Guard {
	g := &Guard{httpsOnly: cfg.HTTPSOnly, resolver: cfg.Resolver}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	for _, p := range cfg.Allow {
		if p.IsValid() {
			g.allow = append(g.allow, normalise(p))
		}
	}
	return g
}

// CheckIP returns nil when ip may be dialled (allowlisted, or not blocked),
// else an error wrapping ErrBlocked that names the address and the reason.
func (g *Guard) CheckIP(ip netip.Addr) error {
	return g.check("", ip)
}

// check is CheckIP for an address that host resolved to or spelled; the
// error names host too when it differs from the address.
func (g *Guard) check(host string, ip netip.Addr) error {
	if g.allowed(ip) {
		return nil
	}
	reason, blocked := Classify(ip)
	if !blocked {
		return nil
	}
	if host == ip.String() {
		host = ""
	}
	return &blockedError{host: host, addr: ip, reason: reason}
}

func (g *Guard) allowed(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	for _, p := range g.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseCIDRs parses a comma-separated list such as
// "127.0.0.0/8, ::1/128, 10.1.2.3"; a bare address stands for itself (/32
// or /128). Empty entries are skipped, so "" gives nil. An error names the
// bad entry.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(entry, "/") {
			var err error
			if p, err = netip.ParsePrefix(entry); err != nil {
				return nil, fmt.Errorf("bad CIDR %q: %w", entry, err)
			}
		} else {
			ip, err := netip.ParseAddr(entry)
			if err != nil {
				return nil, fmt.Errorf("bad CIDR %q: %w", entry, err)
			}
			if ip.Zone() != "" {
				return nil, fmt.Errorf("bad CIDR %q: zones are not allowed", entry)
			}
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		out = append(out, normalise(p))
	}
	return out, nil
}

// normalise masks p and turns an IPv4-mapped IPv6 prefix into the IPv4
// prefix it covers, since the allowlist is matched on unmapped addresses.
func normalise(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// blockedError is a refusal: the address, why, and the name that resolved
// to it when there was one.
type blockedError struct {
	host   string
	addr   netip.Addr
	reason string
}

func (e *blockedError) Error() string {
	if e.host != "" {
		return fmt.Sprintf("destination %s (%s) is refused: %s", e.host, e.addr, e.reason)
	}
	return fmt.Sprintf("destination %s is refused: %s", e.addr, e.reason)
}

func (e *blockedError) Unwrap() error { return ErrBlocked }

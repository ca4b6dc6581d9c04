package destination

import "net/netip"

type refusedRange struct {
	prefix netip.Prefix
	reason string
}

func refuse(cidr, reason string) refusedRange {
	return refusedRange{netip.MustParsePrefix(cidr), reason}
}

// Reasons shared by several ranges.
const (
	private       = "private (RFC 1918)"
	documentation = "documentation"
	metadata      = "cloud metadata"
	nat64         = "IPv4 embedded in IPv6 (NAT64)"
	ietfReserved  = "reserved (IETF protocol assignments)"
)

// v4Refused lists the IPv4 ranges that are not globally reachable (IANA
// special-purpose registry). The first match wins, so the more specific
// ranges come before the ranges holding them.
var v4Refused = []refusedRange{
	refuse("0.0.0.0/8", "unspecified"),
	refuse("10.0.0.0/8", private),
	refuse("100.100.100.200/32", metadata), // Alibaba Cloud
	refuse("100.64.0.0/10", "carrier-grade NAT"),
	refuse("127.0.0.0/8", "loopback"),
	refuse("169.254.169.254/32", metadata), // AWS, GCP, Azure, and most others
	refuse("169.254.170.2/32", metadata),   // AWS ECS task credentials
	refuse("169.254.0.0/16", "link-local"),
	refuse("172.16.0.0/12", private),
	refuse("192.0.0.192/32", metadata), // Oracle Cloud
	refuse("192.0.0.0/24", ietfReserved),
	refuse("192.0.2.0/24", documentation),
	refuse("192.88.99.0/24", "reserved (6to4 relay anycast)"),
	refuse("192.168.0.0/16", private),
	refuse("198.18.0.0/15", "benchmarking"),
	refuse("198.51.100.0/24", documentation),
	refuse("203.0.113.0/24", documentation),
	refuse("224.0.0.0/4", "multicast"),
	refuse("255.255.255.255/32", "broadcast"),
	refuse("240.0.0.0/4", "reserved (class E)"),
}

// v6Refused is the same for IPv6. IPv4-mapped addresses never reach it:
// they are classified as the IPv4 address they carry.
var v6Refused = []refusedRange{
	refuse("::/128", "unspecified"),
	refuse("::1/128", "loopback"),
	refuse("::/96", "IPv4-compatible IPv6"),
	refuse("64:ff9b::/96", nat64),
	refuse("64:ff9b:1::/48", nat64),
	refuse("100::/64", "discard"),
	refuse("2001::/32", "Teredo"),
	refuse("2001:2::/48", "benchmarking"),
	refuse("2001::/23", ietfReserved),
	refuse("2001:db8::/32", documentation),
	refuse("2002::/16", "6to4"),
	refuse("3fff::/20", documentation),
	refuse("fd00:ec2::254/128", metadata), // AWS
	refuse("fd20:ce::254/128", metadata),  // GCP
	refuse("fc00::/7", "unique local (IPv6)"),
	refuse("fe80::/10", "link-local"),
	refuse("fec0::/10", "site-local (deprecated)"),
	refuse("ff00::/8", "multicast"),
}

// globalUnicast6 is the only IPv6 space IANA allocates for global unicast;
// everything outside it is refused even when no range above names it.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// Classify says whether ip is refused and why. The reason is a short phrase
// such as "loopback" or "private (RFC 1918)"; a public global unicast
// address gives "", false. An IPv4-mapped IPv6 address is classified as
// the IPv4 address it carries, and a zone is ignored.
func Classify(ip netip.Addr) (reason string, blocked bool) {
	if !ip.IsValid() {
		return "invalid address", true
	}
	ip = ip.WithZone("").Unmap()
	ranges := v6Refused
	if ip.Is4() {
		ranges = v4Refused
	}
	for _, rr := range ranges {
		if rr.prefix.Contains(ip) {
			return rr.reason, true
		}
	}
	if ip.Is6() && !globalUnicast6.Contains(ip) {
		return "reserved (not global unicast)", true
	}
	// The tables cover every case this does; it stays as a backstop.
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return "not global unicast", true
	}
	return "", false
}

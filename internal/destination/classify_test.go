package destination

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// classifyCases covers each refused range at its first and last address and
// the first address past it, plus public addresses that must stay open.
var classifyCases = []struct {
	ip     string
	reason string // "" means allowed
}{
	// 0.0.0.0/8
	{"0.0.0.0", "unspecified"},
	{"0.255.255.255", "unspecified"},
	{"1.0.0.0", ""},
	// 10.0.0.0/8
	{"9.255.255.255", ""},
	{"10.0.0.0", private},
	{"10.255.255.255", private},
	{"11.0.0.0", ""},
	// 100.64.0.0/10
	{"100.63.255.255", ""},
	{"100.64.0.0", "carrier-grade NAT"},
	{"100.127.255.255", "carrier-grade NAT"},
	{"100.128.0.0", ""},
	{"100.100.100.200", metadata},
	// 127.0.0.0/8
	{"126.255.255.255", ""},
	{"127.0.0.0", "loopback"},
	{"127.0.0.1", "loopback"},
	{"127.255.255.255", "loopback"},
	{"128.0.0.0", ""},
	// 169.254.0.0/16
	{"169.253.255.255", ""},
	{"169.254.0.0", "link-local"},
	{"169.254.169.253", "link-local"},
	{"169.254.169.254", metadata},
	{"169.254.169.255", "link-local"},
	{"169.254.170.2", metadata},
	{"169.254.255.255", "link-local"},
	{"169.255.0.0", ""},
	// 172.16.0.0/12
	{"172.15.255.255", ""},
	{"172.16.0.0", private},
	{"172.31.255.255", private},
	{"172.32.0.0", ""},
	// 192.0.0.0/24
	{"191.255.255.255", ""},
	{"192.0.0.0", ietfReserved},
	{"192.0.0.192", metadata},
	{"192.0.0.255", ietfReserved},
	{"192.0.1.0", ""},
	// 192.0.2.0/24
	{"192.0.2.0", documentation},
	{"192.0.2.255", documentation},
	{"192.0.3.0", ""},
	// 192.88.99.0/24
	{"192.88.98.255", ""},
	{"192.88.99.0", "reserved (6to4 relay anycast)"},
	{"192.88.99.255", "reserved (6to4 relay anycast)"},
	{"192.88.100.0", ""},
	// 192.168.0.0/16
	{"192.167.255.255", ""},
	{"192.168.0.0", private},
	{"192.168.255.255", private},
	{"192.169.0.0", ""},
	// 198.18.0.0/15
	{"198.17.255.255", ""},
	{"198.18.0.0", "benchmarking"},
	{"198.19.255.255", "benchmarking"},
	{"198.20.0.0", ""},
	// 198.51.100.0/24
	{"198.51.99.255", ""},
	{"198.51.100.0", documentation},
	{"198.51.100.255", documentation},
	{"198.51.101.0", ""},
	// 203.0.113.0/24
	{"203.0.112.255", ""},
	{"203.0.113.0", documentation},
	{"203.0.113.255", documentation},
	{"203.0.114.0", ""},
	// 224.0.0.0/4, 240.0.0.0/4, 255.255.255.255
	{"223.255.255.255", ""},
	{"224.0.0.0", "multicast"},
	{"239.255.255.255", "multicast"},
	{"240.0.0.0", "reserved (class E)"},
	{"255.255.255.254", "reserved (class E)"},
	{"255.255.255.255", "broadcast"},
	// Public IPv4.
	{"8.8.8.8", ""},
	{"1.1.1.1", ""},

	// ::, ::1 and IPv4-compatible ::/96
	{"::", "unspecified"},
	{"::1", "loopback"},
	{"::2", "IPv4-compatible IPv6"},
	{"::127.0.0.1", "IPv4-compatible IPv6"},
	{"::8.8.8.8", "IPv4-compatible IPv6"},
	{"::255.255.255.255", "IPv4-compatible IPv6"},
	{"::1:0:0", "reserved (not global unicast)"},
	// IPv4-mapped ::ffff:0:0/96 is classified as the IPv4 address.
	{"::ffff:0.0.0.0", "unspecified"},
	{"::ffff:127.0.0.1", "loopback"},
	{"::ffff:7f00:1", "loopback"},
	{"::ffff:10.0.0.1", private},
	{"::ffff:169.254.169.254", metadata},
	{"::ffff:255.255.255.255", "broadcast"},
	{"::ffff:8.8.8.8", ""},
	{"::1:ffff:0:0", "reserved (not global unicast)"},
	// SIIT IPv4-translated ::ffff:0:0:0/96 is not mapped.
	{"::ffff:0:8.8.8.8", "reserved (not global unicast)"},
	// NAT64 64:ff9b::/96 and 64:ff9b:1::/48
	{"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", "reserved (not global unicast)"},
	{"64:ff9b::", nat64},
	{"64:ff9b::8.8.8.8", nat64},
	{"64:ff9b::ffff:ffff", nat64},
	{"64:ff9b::1:0:0", "reserved (not global unicast)"},
	{"64:ff9b:1::", nat64},
	{"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", nat64},
	{"64:ff9b:2::", "reserved (not global unicast)"},
	// 100::/64
	{"100::", "discard"},
	{"100::ffff:ffff:ffff:ffff", "discard"},
	{"100:0:0:1::", "reserved (not global unicast)"},
	// Edge of 2000::/3.
	{"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved (not global unicast)"},
	{"2000::", ""},
	{"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
	{"4000::", "reserved (not global unicast)"},
	// 2001::/23 with Teredo 2001::/32 and benchmarking 2001:2::/48
	{"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
	{"2001::", "Teredo"},
	{"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "Teredo"},
	{"2001:1::", ietfReserved},
	{"2001:1:ffff:ffff:ffff:ffff:ffff:ffff", ietfReserved},
	{"2001:2::", "benchmarking"},
	{"2001:2:0:ffff:ffff:ffff:ffff:ffff", "benchmarking"},
	{"2001:2:1::", ietfReserved},
	{"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", ietfReserved},
	{"2001:200::", ""},
	// 2001:db8::/32
	{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", ""},
	{"2001:db8::", documentation},
	{"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", documentation},
	{"2001:db9::", ""},
	// 2002::/16
	{"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
	{"2002::", "6to4"},
	{"2002:7f00:1::", "6to4"},
	{"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "6to4"},
	{"2003::", ""},
	// 3fff::/20
	{"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ""},
	{"3fff::", documentation},
	{"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", documentation},
	{"3fff:1000::", ""},
	// fc00::/7
	{"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved (not global unicast)"},
	{"fc00::", "unique local (IPv6)"},
	{"fd00:ec2::253", "unique local (IPv6)"},
	{"fd00:ec2::254", metadata},
	{"fd20:ce::254", metadata},
	{"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local (IPv6)"},
	{"fe00::", "reserved (not global unicast)"},
	// fe80::/10, fec0::/10, ff00::/8
	{"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved (not global unicast)"},
	{"fe80::", "link-local"},
	{"fe80::1%eth0", "link-local"},
	{"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local"},
	{"fec0::", "site-local (deprecated)"},
	{"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "site-local (deprecated)"},
	{"ff00::", "multicast"},
	{"ff02::1", "multicast"},
	{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "multicast"},
	// Public IPv6.
	{"2606:4700::1111", ""},
	{"2606:4700::1111%eth0", ""},
	{"2001:4860:4860::8888", ""},
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tt := range classifyCases {
		t.Run(tt.ip, func(t *testing.T) {
			t.Parallel()
			reason, blocked := Classify(netip.MustParseAddr(tt.ip))
			if reason != tt.reason || blocked != (tt.reason != "") {
				t.Errorf("Classify(%s) = %q, %v; want %q, %v", tt.ip, reason, blocked, tt.reason, tt.reason != "")
			}
		})
	}
}

func TestClassifyInvalid(t *testing.T) {
	t.Parallel()
	if reason, blocked := Classify(netip.Addr{}); !blocked || reason == "" {
		t.Errorf("Classify(zero Addr) = %q, %v; want a reason, true", reason, blocked)
	}
}

func TestCheckIP(t *testing.T) {
	t.Parallel()
	allow := MustParseCIDRs(t, "127.0.0.0/8, ::1/128, 10.1.2.3, ::ffff:192.168.0.0/112, fc00::/7")
	tests := []struct {
		ip      string
		allow   []netip.Prefix
		wantErr string // "" means allowed
	}{
		{"10.0.0.1", nil, "destination 10.0.0.1 is refused: private (RFC 1918)"},
		{"169.254.169.254", nil, "destination 169.254.169.254 is refused: cloud metadata"},
		{"::ffff:127.0.0.1", nil, "destination ::ffff:127.0.0.1 is refused: loopback"},
		{"fe80::1%eth0", nil, "destination fe80::1%eth0 is refused: link-local"},
		{"8.8.8.8", nil, ""},
		{"::ffff:8.8.8.8", nil, ""},
		{"127.0.0.1", allow, ""},
		{"127.255.255.255", allow, ""},
		{"::ffff:127.0.0.1", allow, ""}, // matched unmapped
		{"::1", allow, ""},
		{"10.1.2.3", allow, ""},
		{"10.1.2.4", allow, "destination 10.1.2.4 is refused: private (RFC 1918)"},
		{"192.168.7.7", allow, ""}, // mapped prefix normalised to 192.168.0.0/16
		{"fd00:ec2::254", allow, ""},
		{"169.254.169.254", allow, "destination 169.254.169.254 is refused: cloud metadata"},
		{"::127.0.0.1", allow, "destination ::7f00:1 is refused: IPv4-compatible IPv6"},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			t.Parallel()
			err := New(Config{Allow: tt.allow}).CheckIP(netip.MustParseAddr(tt.ip))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckIP(%s) = %v, want nil", tt.ip, err)
				}
				return
			}
			if !errors.Is(err, ErrBlocked) || err.Error() != tt.wantErr {
				t.Fatalf("CheckIP(%s) = %v, want %q wrapping ErrBlocked", tt.ip, err, tt.wantErr)
			}
		})
	}
}

func TestNewNormalisesAllow(t *testing.T) {
	t.Parallel()
	g := New(Config{Allow: []netip.Prefix{
		netip.MustParsePrefix("::ffff:127.0.0.1/104"), // unmasked and mapped
		{}, // ignored
	}})
	if err := g.CheckIP(netip.MustParseAddr("127.9.9.9")); err != nil {
		t.Errorf("127.9.9.9 with ::ffff:127.0.0.1/104 allowed: %v", err)
	}
	if err := g.CheckIP(netip.MustParseAddr("10.0.0.1")); !errors.Is(err, ErrBlocked) {
		t.Errorf("10.0.0.1: %v, want ErrBlocked", err)
	}
}

func TestParseCIDRs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr string // substring naming the bad entry
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "127.0.0.0/8, ::1/128, 10.1.2.3", want: []string{"127.0.0.0/8", "::1/128", "10.1.2.3/32"}},
		{in: "::1", want: []string{"::1/128"}},
		{in: "10.1.2.3/8,", want: []string{"10.0.0.0/8"}},
		{in: "::ffff:127.0.0.0/104", want: []string{"127.0.0.0/8"}},
		{in: "127.0.0.0/8,nope", wantErr: `"nope"`},
		{in: "10.0.0.0/33", wantErr: `"10.0.0.0/33"`},
		{in: "fe80::1%eth0", wantErr: `"fe80::1%eth0"`},
		{in: "fe80::/10%eth0", wantErr: `"fe80::/10%eth0"`},
		{in: "1.2.3.4/", wantErr: `"1.2.3.4/"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCIDRs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCIDRs(%q) error = %v, want one naming %s", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCIDRs(%q): %v", tt.in, err)
			}
			var want []netip.Prefix
			for _, w := range tt.want {
				want = append(want, netip.MustParsePrefix(w))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ParseCIDRs(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}

// MustParseCIDRs is ParseCIDRs that fails tb on error.
func MustParseCIDRs(tb testing.TB, s string) []netip.Prefix {
	tb.Helper()
	p, err := ParseCIDRs(s)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

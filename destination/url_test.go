package destination

import (
	"errors"
	"strings"
	"testing"
)

// hostileURLs are webhook URLs whose host is a refused address, spelled
// every way a resolver or URL parser might accept.
var hostileURLs = []struct {
	url    string
	reason string
}{
	// Dotted IPv4, one per range.
	{"http://127.0.0.1/", "loopback"},
	{"https://127.255.255.254:8443/x", "loopback"},
	{"http://10.0.0.1/", private},
	{"http://172.16.0.1/", private},
	{"http://172.31.255.255/", private},
	{"http://192.168.0.1:8080/hook", private},
	{"http://169.254.169.254/latest/meta-data/", metadata},
	{"http://169.254.0.1/", "link-local"},
	{"http://100.64.0.1/", "carrier-grade NAT"},
	{"http://100.100.100.200/latest/meta-data/", metadata},
	{"http://0.0.0.0:8080/", "unspecified"},
	{"http://224.0.0.1/", "multicast"},
	{"http://255.255.255.255/", "broadcast"},
	{"http://240.0.0.1/", "reserved (class E)"},
	{"http://192.0.0.1/", ietfReserved},
	{"http://192.0.0.192/", metadata},
	{"http://198.18.0.1/", "benchmarking"},
	{"http://192.88.99.1/", "reserved (6to4 relay anycast)"},
	{"http://192.0.2.1/", documentation},
	{"http://198.51.100.1/", documentation},
	{"http://203.0.113.1/", documentation},
	{"HTTP://127.0.0.1/", "loopback"},
	{"http://127.0.0.1./", "loopback"},
	// inet_aton spellings: decimal, octal, hex, short, mixed.
	{"http://2130706433/", "loopback"},
	{"http://2852039166/latest/meta-data/", metadata},
	{"http://167772161/", private},
	{"http://0/", "unspecified"},
	{"http://0177.0.0.1/", "loopback"},
	{"http://017700000001/", "loopback"},
	{"http://0251.0376.0251.0376/", metadata},
	{"http://127.000.000.001/", "loopback"},
	{"http://0x7f.1/", "loopback"},
	{"http://0x7f000001/", "loopback"},
	{"http://0X7F.0X0.0X0.0X1/", "loopback"},
	{"http://0xa9.0xfe.0xa9.0xfe/", metadata},
	{"http://0xA9FEA9FE/", metadata},
	{"http://0xa9.0xfea9fe/", metadata},
	{"http://169.254.43518/", metadata},
	{"http://127.1/", "loopback"},
	{"http://127.0.1/", "loopback"},
	{"http://10.1/", private},
	{"http://192.168.1/", private},
	{"http://0x0a.0.0.01/", private},
	{"http://0xc0.0250.1/", private},
	{"http://１２７.０.０.１/", "loopback"},
	{"http://１６９。２５４。１６９。２５４/", metadata},
	// Bracketed IPv6, with and without zones.
	{"http://[::1]/", "loopback"},
	{"https://[::1]:443/", "loopback"},
	{"http://[0:0:0:0:0:0:0:1]/", "loopback"},
	{"http://[0000::0001]/", "loopback"},
	{"http://[::]/", "unspecified"},
	{"http://[fe80::1%25eth0]/", "link-local"},
	{"http://[fe80::a9fe:a9fe%25en0]:8080/", "link-local"},
	{"http://[FE80::1]/", "link-local"},
	{"http://[fc00::1]/", "unique local (IPv6)"},
	{"http://[fd12:3456::1]/", "unique local (IPv6)"},
	{"http://[fd00:ec2::254]/latest/meta-data/", metadata},
	{"http://[ff02::1]/", "multicast"},
	{"http://[fec0::1]/", "site-local (deprecated)"},
	{"http://[100::1]/", "discard"},
	{"http://[2001:db8::1]/", documentation},
	{"http://[3fff::1]/", documentation},
	{"http://[2001::1]/", "Teredo"},
	{"http://[2001:2::1]/", "benchmarking"},
	{"http://[2001:1::1]/", ietfReserved},
	{"http://[5f00::1]/", "reserved (not global unicast)"},
	// IPv4 inside IPv6: mapped, compatible, NAT64, 6to4.
	{"http://[::ffff:127.0.0.1]/", "loopback"},
	{"http://[::ffff:7f00:1]/", "loopback"},
	{"http://[0:0:0:0:0:ffff:169.254.169.254]/", metadata},
	{"http://[::ffff:a9fe:a9fe]/", metadata},
	{"http://[::ffff:10.0.0.1]/", private},
	{"http://[::ffff:192.168.1.1]:8080/", private},
	{"http://[::127.0.0.1]/", "IPv4-compatible IPv6"},
	{"http://[::a9fe:a9fe]/", "IPv4-compatible IPv6"},
	{"http://[64:ff9b::169.254.169.254]/", nat64},
	{"http://[64:ff9b::7f00:1]/", nat64},
	{"http://[64:ff9b:1::a00:1]/", nat64},
	{"http://[2002:7f00:1::]/", "6to4"},
	{"http://[2002:a9fe:a9fe::1]/", "6to4"},
}

func TestCheckURLRefusesHostileDestinations(t *testing.T) {
	t.Parallel()
	g := New(Config{})
	for _, tt := range hostileURLs {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			err := g.CheckURL(tt.url)
			if !errors.Is(err, ErrBlocked) || errors.Is(err, ErrInvalidURL) || !strings.HasSuffix(err.Error(), ": "+tt.reason) {
				t.Fatalf("CheckURL(%q) = %v, want ErrBlocked for %q", tt.url, err, tt.reason)
			}
		})
	}
}

func TestCheckURLRefusesInvalidURLs(t *testing.T) {
	t.Parallel()
	long := "https://example.com/" + strings.Repeat("a", MaxURLLen-len("https://example.com/")+1)
	tests := []struct {
		url       string
		httpsOnly bool
		want      string
	}{
		{"ftp://example.com/", false, "url must use http or https"},
		{"file:///etc/passwd", false, "url must use http or https"},
		{"gopher://127.0.0.1:6379/_INFO", false, "url must use http or https"},
		{"javascript:alert(1)", false, "url must use http or https"},
		{"ws://example.com/", false, "url must use http or https"},
		{"example.com/hook", false, "url must use http or https"},
		{"//example.com/hook", false, "url must use http or https"},
		{"", false, "url must use http or https"},
		{"http://example.com/", true, "url must use https"},
		{"ftp://example.com/", true, "url must use https"},
		{"http://", false, "url must have a host"},
		{"http:///hook", false, "url must have a host"},
		{"http://:8080/", false, "url must have a host"},
		{"http:example.com", false, "url must have a host"},
		{"http://user:pass@example.com/", false, "url must not contain a user name or password"},
		{"http://user@example.com/", false, "url must not contain a user name or password"},
		{"http://127.0.0.1@example.com/", false, "url must not contain a user name or password"},
		{"http://example.com:0/", false, "url port must be between 1 and 65535"},
		{"http://example.com:65536/", false, "url port must be between 1 and 65535"},
		{long, false, "url must be at most 2048 bytes"},
		{"http://exa mple.com/", false, "url is not valid"},
		{"http://example.com\x00/", false, "url is not valid"},
		{"http://[::1/", false, "url is not valid"},
		{"http://[127.0.0.1]/", false, "url is not valid"},
		{"http://%31%32%37.0.0.1/", false, "url is not valid"},
		{"http://[::ffff:127.000.0.1]/", false, "url is not valid"},
		{"http://127.0.0.1.5/", false, "url host is not a valid name or IP address"},
		{"http://256.0.0.1/", false, "url host is not a valid name or IP address"},
		{"http://4294967296/", false, "url host is not a valid name or IP address"},
		{"http://0x100000000/", false, "url host is not a valid name or IP address"},
		{"http://08.0.0.1/", false, "url host is not a valid name or IP address"},
		{"http://example.0x7f/", false, "url host is not a valid name or IP address"},
		{"http://example.１/", false, "url host is not a valid name or IP address"},
		{"http://example.①/", false, "url host is not a valid name or IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			err := New(Config{HTTPSOnly: tt.httpsOnly}).CheckURL(tt.url)
			if !errors.Is(err, ErrInvalidURL) || errors.Is(err, ErrBlocked) || err.Error() != tt.want {
				t.Fatalf("CheckURL(%q) = %v, want %q wrapping ErrInvalidURL", tt.url, err, tt.want)
			}
		})
	}
}

func TestCheckURLAccepts(t *testing.T) {
	t.Parallel()
	exact := "https://example.com/" + strings.Repeat("a", MaxURLLen-len("https://example.com/"))
	loopback := MustParseCIDRs(t, "127.0.0.0/8,::1/128")
	tests := []struct {
		url string
		cfg Config
	}{
		{"https://example.com/hook", Config{}},
		{"http://example.com:8080/x?y=z#frag", Config{}},
		{"https://example.com/", Config{HTTPSOnly: true}},
		{"HTTPS://EXAMPLE.COM/", Config{HTTPSOnly: true}},
		{exact, Config{}},
		{"https://8.8.8.8/", Config{}},
		{"https://134744072/", Config{}}, // 8.8.8.8
		{"https://[2606:4700::1111]/", Config{}},
		{"https://[::ffff:8.8.8.8]/", Config{}},
		{"https://bücher.example/", Config{}},
		{"https://xn--bcher-kva.example/", Config{}},
		{"https://1.2.3.4.nip.io/", Config{}}, // a name: DialContext checks what it resolves to
		{"https://localhost/", Config{}},      // likewise
		{"https://example.com./", Config{}},
		{"http://1.2.3.0x/", Config{}}, // glibc reads "0x" as 0: 1.2.3.0, public
		{"http://127.0.0.1:8080/", Config{Allow: loopback}},
		{"http://0x7f.1/", Config{Allow: loopback}},
		{"http://[::ffff:127.0.0.1]/", Config{Allow: loopback}},
		{"http://[::1]:9000/", Config{Allow: loopback}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			if err := New(tt.cfg).CheckURL(tt.url); err != nil {
				t.Fatalf("CheckURL(%q) = %v, want nil", tt.url, err)
			}
		})
	}
}

func TestCheckURLErrorNamesSpelling(t *testing.T) {
	t.Parallel()
	err := New(Config{}).CheckURL("http://0177.0.0.1/")
	const want = "destination 0177.0.0.1 (127.0.0.1) is refused: loopback"
	if err == nil || err.Error() != want {
		t.Fatalf("CheckURL error = %v, want %q", err, want)
	}
}

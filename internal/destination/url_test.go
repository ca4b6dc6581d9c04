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
		{"http://exa mple.com/", false, "url host contains a space at position 11"},
		{"http://example.com\x00/", false, "url host contains the control character U+0000 at position 19"},
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
		// Only the characters of RFC 3986 are sent as they are: Go sends
		// a query (and more) verbatim, so a space breaks the request line.
		{"https://example.com/a b", false, "url contains a space at position 22; percent-encode it as %20"},
		{"https://example.com/hook?q=a b", false, "url contains a space at position 29; percent-encode it as %20"},
		{"https://example.com/hook#a b", false, "url contains a space at position 27; percent-encode it as %20"},
		{"https://example.com/hook ", false, "url contains a space at position 25; percent-encode it as %20"},
		{" https://example.com/", false, "url contains a space at position 1"},
		{"https://example.com/a\tb", false, "url contains the control character U+0009 at position 22; percent-encode it as %09"},
		{"https://example.com/\r\nX-Injected: 1", false, "url contains the control character U+000D at position 21; percent-encode it as %0D"},
		{"https://example.com/a\x7f", false, "url contains the control character U+007F at position 22; percent-encode it as %7F"},
		{`https://example.com/"x"`, false, `url contains a double quote (") at position 21; percent-encode it as %22`},
		{"https://example.com/<x>", false, "url contains a less-than sign (<) at position 21; percent-encode it as %3C"},
		{"https://example.com/x>", false, "url contains a greater-than sign (>) at position 22; percent-encode it as %3E"},
		{`https://example.com/a\b`, false, `url contains a backslash (\) at position 22; percent-encode it as %5C`},
		{"https://example.com/a^b", false, "url contains a caret (^) at position 22; percent-encode it as %5E"},
		{"https://example.com/a`b", false, "url contains a backtick (`) at position 22; percent-encode it as %60"},
		{"https://example.com/{id}", false, "url contains an opening brace ({) at position 21; percent-encode it as %7B"},
		{"https://example.com/id}", false, "url contains a closing brace (}) at position 23; percent-encode it as %7D"},
		{"https://example.com/a|b", false, "url contains a vertical bar (|) at position 22; percent-encode it as %7C"},
		{"https://example.com/café", false, `url contains the non-ASCII character "é" (U+00E9) at position 24; percent-encode it as %C3%A9`},
		{"https://example.com/?q=\u200b", false, `url contains the non-ASCII character "\u200b" (U+200B) at position 24; percent-encode it as %E2%80%8B`},
		{"https://example.com/\xff", false, "url contains a byte that is not UTF-8 at position 21; percent-encode it as %FF"},
		{"https://example.com/100%", false, `url contains a "%" not followed by two hex digits at position 24; write a "%" as %25`},
		{"https://example.com/%zz", false, `url contains a "%" not followed by two hex digits at position 21; write a "%" as %25`},
		{"https://example.com/?q=%2", false, `url contains a "%" not followed by two hex digits at position 24; write a "%" as %25`},
		{"https://exa|mple.com/", false, "url host contains a vertical bar (|) at position 12"},
		{"https://bücher.example/", false, `url host contains the non-ASCII character "ü" (U+00FC) at position 10; use the punycode (xn--) form of the host name`},
		{"http://example.１/", false, `url host contains the non-ASCII character "１" (U+FF11) at position 16; use the punycode (xn--) form of the host name`},
		{"http://example.①/", false, `url host contains the non-ASCII character "①" (U+2460) at position 16; use the punycode (xn--) form of the host name`},
		{"http://１２７.０.０.１/", false, `url host contains the non-ASCII character "１" (U+FF11) at position 8; use the punycode (xn--) form of the host name`},
		{"http://１６９。２５４。１６９。２５４/", false, `url host contains the non-ASCII character "１" (U+FF11) at position 8; use the punycode (xn--) form of the host name`},
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
		{"https://xn--bcher-kva.example/", Config{}},
		{"https://example.com/a%20b/caf%C3%A9?q=%7C&r=1#top", Config{}},
		{"https://example.com/!$&'()*+,;=:@-._~/?a=[1]", Config{}},
		{"http://example.com:80/", Config{}},
		{"https://example.com:443/", Config{}},
		{"http://example.com:1024/", Config{}},
		{"https://example.com:8443/", Config{}},
		{"https://example.com:65535/", Config{}},
		{"https://example.com:00443/", Config{}}, // the port is a number, however written
		{"https://[2606:4700::1111]:9443/", Config{}},
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

// portAdvice ends every refusal of a port.
const portAdvice = ": use 80, 443, or a port from 1024 to 65535 that is not a well-known database or infrastructure port"

func TestCheckURLRefusesPorts(t *testing.T) {
	t.Parallel()
	loopback := MustParseCIDRs(t, "127.0.0.0/8,::1/128")
	tests := []struct {
		url  string
		cfg  Config
		port int
		want string
	}{
		{"http://hooks.example.com:1/", Config{}, 1, "url port 1 is not allowed"},
		{"http://hooks.example.com:22/", Config{}, 22, "url port 22 is not allowed"},
		{"https://hooks.example.com:25/", Config{}, 25, "url port 25 is not allowed"},
		{"http://hooks.example.com:79/", Config{}, 79, "url port 79 is not allowed"},
		{"http://hooks.example.com:81/", Config{}, 81, "url port 81 is not allowed"},
		{"https://hooks.example.com:442/", Config{}, 442, "url port 442 is not allowed"},
		{"https://hooks.example.com:444/", Config{}, 444, "url port 444 is not allowed"},
		{"https://hooks.example.com:1023/", Config{}, 1023, "url port 1023 is not allowed"},
		{"http://hooks.example.com:6379/", Config{}, 6379, "url port 6379 (Redis) is not allowed"},
		{"http://hooks.example.com:5432/x", Config{}, 5432, "url port 5432 (PostgreSQL) is not allowed"},
		{"http://8.8.8.8:3306/", Config{}, 3306, "url port 3306 (MySQL) is not allowed"},
		{"http://[2606:4700::1111]:27017/", Config{}, 27017, "url port 27017 (MongoDB) is not allowed"},
		{"https://hooks.example.com:10250/", Config{}, 10250, "url port 10250 (Kubernetes kubelet API) is not allowed"},
		{"http://hooks.example.com:2375/", Config{}, 2375, "url port 2375 (Docker API) is not allowed"},
		{"http://hooks.example.com:11211/", Config{}, 11211, "url port 11211 (memcached) is not allowed"},
		{"https://hooks.example.com:9200/", Config{}, 9200, "url port 9200 (Elasticsearch) is not allowed"},
		// The rule is about ports: an allowlisted range is held to it too.
		{"http://127.0.0.1:6379/", Config{Allow: loopback}, 6379, "url port 6379 (Redis) is not allowed"},
		{"http://[::1]:22/", Config{Allow: loopback}, 22, "url port 22 is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			err := New(tt.cfg).CheckURL(tt.url)
			var pe *PortError
			if !errors.Is(err, ErrBlocked) || errors.Is(err, ErrInvalidURL) || !errors.As(err, &pe) ||
				pe.Port != tt.port || err.Error() != tt.want+portAdvice {
				t.Fatalf("CheckURL(%q) = %v, want a PortError for %d wrapping ErrBlocked: %q", tt.url, err, tt.port, tt.want+portAdvice)
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

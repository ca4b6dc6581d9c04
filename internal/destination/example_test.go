package destination_test

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/trackelio/webhooks/internal/destination"
)

func ExampleClassify() {
	for _, s := range []string{"8.8.8.8", "10.1.2.3", "::ffff:169.254.169.254", "fd00:ec2::254", "2606:4700::1111"} {
		reason, blocked := destination.Classify(netip.MustParseAddr(s))
		fmt.Printf("%s: %v %q\n", s, blocked, reason)
	}
	// Output:
	// 8.8.8.8: false ""
	// 10.1.2.3: true "private (RFC 1918)"
	// ::ffff:169.254.169.254: true "cloud metadata"
	// fd00:ec2::254: true "cloud metadata"
	// 2606:4700::1111: false ""
}

func ExampleGuard_CheckURL() {
	g := destination.New(destination.Config{HTTPSOnly: true})
	for _, u := range []string{
		"https://hooks.example.com/trackelio",
		"https://0x7f.1/",
		"https://[::ffff:a9fe:a9fe]/latest/meta-data/",
		"http://hooks.example.com/",
	} {
		fmt.Println(u, "→", g.CheckURL(u))
	}
	// Output:
	// https://hooks.example.com/trackelio → <nil>
	// https://0x7f.1/ → destination 0x7f.1 (127.0.0.1) is refused: loopback
	// https://[::ffff:a9fe:a9fe]/latest/meta-data/ → destination ::ffff:a9fe:a9fe (::ffff:169.254.169.254) is refused: cloud metadata
	// http://hooks.example.com/ → url must use https
}

// A development setup opens loopback with DELIVERY_ALLOW_CIDRS and hands the
// guard's dialer to the HTTP transport, which then refuses everything else
// after DNS resolution.
func ExampleGuard_DialContext() {
	allow, err := destination.ParseCIDRs("127.0.0.0/8, ::1/128")
	if err != nil {
		panic(err)
	}
	g := destination.New(destination.Config{Allow: allow})
	client := &http.Client{
		Transport: &http.Transport{
			DialContext: g.DialContext(&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}),
		},
		Timeout: 30 * time.Second,
	}
	_ = client
}

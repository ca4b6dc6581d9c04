package destination

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests connect only to loopback listeners they open. Every other
// address is either refused by the guard or, should the guard fail, by
// the loopback-only control hook of the base dialer (connectLog.dialer),
// which runs after the guard's check and before connect(2).

// fakeResolver is a Resolver whose answers come from LookupNetIPFunc.
type fakeResolver struct {
	LookupNetIPFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*fakeResolver)(nil)

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return r.LookupNetIPFunc(ctx, network, host)
}

// staticResolver answers from names; any other name is not found.
func staticResolver(names map[string][]string) *fakeResolver {
	return &fakeResolver{LookupNetIPFunc: func(_ context.Context, _, host string) ([]netip.Addr, error) {
		ss, ok := names[host]
		if !ok {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out, nil
	}}
}

// connectLog records the addresses a base dialer was about to connect to.
type connectLog struct {
	mu    sync.Mutex
	addrs []string
}

// dialer returns a base dialer for Guard.DialContext whose control hook
// records each connect and refuses anything but loopback.
func (l *connectLog) dialer() *net.Dialer {
	return &net.Dialer{
		Timeout: 5 * time.Second,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			l.mu.Lock()
			l.addrs = append(l.addrs, address)
			l.mu.Unlock()
			if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().Unmap().IsLoopback() {
				return errors.New("test safety net: refusing non-loopback " + address)
			}
			return nil
		},
	}
}

func (l *connectLog) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.addrs)
}

// quietListener opens a loopback listener that must never be connected to.
func quietListener(t *testing.T) (*net.TCPListener, string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ln.(*net.TCPListener), port
}

// assertNoConnections fails t if a connection is waiting on ln: one that a
// dial had completed would sit in the accept queue.
func assertNoConnections(t *testing.T, ln *net.TCPListener) {
	t.Helper()
	if err := ln.SetDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err == nil {
		c.Close()
		t.Fatalf("listener %s accepted a connection", ln.Addr())
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("accept: %v", err)
	}
}

// client returns an HTTP client that dials through g.
func client(t *testing.T, g *Guard, base *net.Dialer) *http.Client {
	t.Helper()
	tr := &http.Transport{DialContext: g.DialContext(base), DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestDialContextRefuses(t *testing.T) {
	t.Parallel()
	ln, port := quietListener(t)
	var connects connectLog
	loopback := MustParseCIDRs(t, "127.0.0.0/8")
	tests := []struct {
		name    string   // test name and host to dial
		addrs   []string // what the host resolves to; nil for literals
		network string   // "" means tcp
		allow   []netip.Prefix
		reason  string // what the error must mention
	}{
		{name: "loopback.test", addrs: []string{"127.0.0.1"}, reason: "loopback"},
		{name: "loopback6.test", addrs: []string{"::1"}, reason: "loopback"},
		{name: "private10.test", addrs: []string{"10.0.0.1"}, reason: private},
		{name: "private172.test", addrs: []string{"172.16.0.1"}, reason: private},
		{name: "private192.test", addrs: []string{"192.168.1.1"}, reason: private},
		{name: "metadata.test", addrs: []string{"169.254.169.254"}, reason: metadata},
		{name: "linklocal.test", addrs: []string{"169.254.1.1"}, reason: "link-local"},
		{name: "linklocal6.test", addrs: []string{"fe80::1"}, reason: "link-local"},
		{name: "cgnat.test", addrs: []string{"100.64.0.1"}, reason: "carrier-grade NAT"},
		{name: "unspecified.test", addrs: []string{"0.0.0.0"}, reason: "unspecified"},
		{name: "unspecified6.test", addrs: []string{"::"}, reason: "unspecified"},
		{name: "multicast.test", addrs: []string{"224.0.0.1"}, reason: "multicast"},
		{name: "multicast6.test", addrs: []string{"ff02::1"}, reason: "multicast"},
		{name: "broadcast.test", addrs: []string{"255.255.255.255"}, reason: "broadcast"},
		{name: "classe.test", addrs: []string{"240.0.0.1"}, reason: "reserved"},
		{name: "benchmark.test", addrs: []string{"198.18.0.1"}, reason: "benchmarking"},
		{name: "documentation.test", addrs: []string{"192.0.2.1"}, reason: documentation},
		{name: "documentation6.test", addrs: []string{"2001:db8::1"}, reason: documentation},
		{name: "ula.test", addrs: []string{"fd00::1"}, reason: "unique local (IPv6)"},
		{name: "metadata6.test", addrs: []string{"fd00:ec2::254"}, reason: metadata},
		{name: "sitelocal.test", addrs: []string{"fec0::1"}, reason: "site-local"},
		{name: "mapped.test", addrs: []string{"::ffff:127.0.0.1"}, reason: "loopback"},
		{name: "mappedmetadata.test", addrs: []string{"::ffff:169.254.169.254"}, reason: metadata},
		{name: "compatible.test", addrs: []string{"::127.0.0.1"}, reason: "IPv4-compatible"},
		{name: "nat64.test", addrs: []string{"64:ff9b::a9fe:a9fe"}, reason: nat64},
		{name: "6to4.test", addrs: []string{"2002:7f00:1::"}, reason: "6to4"},
		{name: "teredo.test", addrs: []string{"2001::1"}, reason: "Teredo"},
		// One refused address refuses the name, even after public ones.
		{name: "mixed.test", addrs: []string{"8.8.8.8", "127.0.0.1"}, reason: "loopback"},
		{name: "mixed-last.test", addrs: []string{"2606:4700::1111", "1.1.1.1", "10.0.0.1"}, reason: private},
		{name: "mixed-allowed.test", addrs: []string{"127.0.0.1", "169.254.169.254"}, allow: loopback, reason: metadata},
		{name: "outside-allow.test", addrs: []string{"10.0.0.1"}, allow: loopback, reason: private},
		// Literal hosts skip the resolver but not the check.
		{name: "127.0.0.1", reason: "loopback"},
		{name: "::1", reason: "loopback"},
		{name: "::ffff:127.0.0.1", reason: "loopback"},
		{name: "0177.0.0.1", reason: "loopback"},
		{name: "2130706433", reason: "loopback"},
		{name: "0x7f.1", reason: "loopback"},
		{name: "169.254.169.254", allow: loopback, reason: metadata},
		// Only TCP is dialled.
		{name: "loopback.test", network: "unix", allow: loopback, reason: `network "unix" is not tcp`},
		{name: "loopback.test", network: "udp", allow: loopback, reason: `network "udp" is not tcp`},
	}
	names := map[string][]string{}
	for _, tt := range tests {
		if tt.addrs != nil {
			names[tt.name] = tt.addrs
		}
	}
	resolver := staticResolver(names)

	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			network := cmp.Or(tt.network, "tcp")
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				g := New(Config{Allow: tt.allow, Resolver: resolver})
				conn, err := g.DialContext(connects.dialer())(t.Context(), network, net.JoinHostPort(tt.name, port))
				if err == nil {
					conn.Close()
					t.Fatal("dial succeeded, want refusal")
				}
				var opErr *net.OpError
				if !errors.Is(err, ErrBlocked) || !errors.As(err, &opErr) || !strings.Contains(err.Error(), tt.reason) {
					t.Fatalf("dial error = %v, want a *net.OpError wrapping ErrBlocked mentioning %q", err, tt.reason)
				}
			})
		}
	})
	if got := connects.got(); len(got) != 0 {
		t.Errorf("base dialer reached connect for %v, want none", got)
	}
	assertNoConnections(t, ln)
}

func TestDialContextErrorText(t *testing.T) {
	t.Parallel()
	g := New(Config{Resolver: staticResolver(map[string][]string{"metadata.test": {"169.254.169.254"}})})
	var connects connectLog
	dial := g.DialContext(connects.dialer())
	tests := []struct{ address, want string }{
		{"metadata.test:80", "dial tcp: destination metadata.test (169.254.169.254) is refused: cloud metadata"},
		{"10.0.0.1:80", "dial tcp: destination 10.0.0.1 is refused: private (RFC 1918)"},
		{"0x7f.1:80", "dial tcp: destination 0x7f.1 (127.0.0.1) is refused: loopback"},
	}
	for _, tt := range tests {
		_, err := dial(t.Context(), "tcp", tt.address)
		if err == nil || err.Error() != tt.want {
			t.Errorf("dial %s: %v, want %q", tt.address, err, tt.want)
		}
	}
	if got := connects.got(); len(got) != 0 {
		t.Errorf("base dialer reached connect for %v, want none", got)
	}
}

// A refusal travels through http.Client as *url.Error → *net.OpError →
// ErrBlocked, so the sender can tell it from a connection failure.
func TestHTTPClientReportsBlocked(t *testing.T) {
	t.Parallel()
	ln, port := quietListener(t)
	var connects connectLog
	g := New(Config{Resolver: staticResolver(map[string][]string{
		"metadata.test": {"169.254.169.254"},
		"rebind.test":   {"127.0.0.1"},
	})})
	c := client(t, g, connects.dialer())
	for _, u := range []string{
		"http://metadata.test:" + port + "/latest/meta-data/",
		"http://rebind.test:" + port + "/",
		"http://127.0.0.1:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
	} {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s succeeded, want refusal", u)
			continue
		}
		var uErr *url.Error
		var opErr *net.OpError
		if !errors.Is(err, ErrBlocked) || !errors.As(err, &uErr) || !errors.As(err, &opErr) {
			t.Errorf("GET %s: %v (%T), want *url.Error wrapping *net.OpError wrapping ErrBlocked", u, err, err)
		}
	}
	if got := connects.got(); len(got) != 0 {
		t.Errorf("base dialer reached connect for %v, want none", got)
	}
	assertNoConnections(t, ln)
}

// An allowed receiver cannot redirect the client to a refused address.
func TestHTTPClientRedirectToBlocked(t *testing.T) {
	t.Parallel()
	targets := map[string]string{
		"/metadata": "http://169.254.169.254/latest/meta-data/",
		"/mapped":   "http://[::ffff:169.254.169.254]/",
		"/internal": "http://internal.test/",
		"/decimal":  "http://2852039166/",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, targets[r.URL.Path], http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	var connects connectLog
	g := New(Config{
		Allow:    MustParseCIDRs(t, "127.0.0.1"),
		Resolver: staticResolver(map[string][]string{"internal.test": {"10.0.0.1"}}),
	})
	c := client(t, g, connects.dialer())
	for path := range targets {
		resp, err := c.Get(srv.URL + path)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s followed to %s, want refusal", path, resp.Request.URL)
			continue
		}
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("GET %s: %v, want ErrBlocked", path, err)
		}
	}
	for _, a := range connects.got() {
		if a != srv.Listener.Addr().String() {
			t.Errorf("base dialer reached connect for %s, want only %s", a, srv.Listener.Addr())
		}
	}
}

func TestDialContextConnectsToAllowedLoopback(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().(*net.TCPAddr)
	port := addr.AddrPort().Port()
	tests := []struct {
		name     string
		host     string
		addrs    []string
		lookups  []string
		connects []string
	}{
		{
			name: "name", host: "hooks.test", addrs: []string{"127.0.0.1"},
			lookups:  []string{"hooks.test"},
			connects: []string{addr.String()},
		},
		{
			name: "mapped answer", host: "mapped.test", addrs: []string{"::ffff:127.0.0.1"},
			lookups:  []string{"mapped.test"},
			connects: []string{addr.String()},
		},
		{
			// Nothing listens on 127.0.0.2, so the dial moves on.
			name: "next address after a failure", host: "fallback.test", addrs: []string{"127.0.0.2", "127.0.0.1"},
			lookups:  []string{"fallback.test"},
			connects: []string{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port).String(), addr.String()},
		},
		{
			name: "literal", host: "127.0.0.1",
			connects: []string{addr.String()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu      sync.Mutex
				lookups []string
			)
			static := staticResolver(map[string][]string{tt.host: tt.addrs})
			resolver := &fakeResolver{LookupNetIPFunc: func(ctx context.Context, network, host string) ([]netip.Addr, error) {
				mu.Lock()
				lookups = append(lookups, host)
				mu.Unlock()
				return static.LookupNetIP(ctx, network, host)
			}}
			g := New(Config{Allow: MustParseCIDRs(t, "127.0.0.0/8"), Resolver: resolver})
			var connects connectLog
			resp, err := client(t, g, connects.dialer()).Get("http://" + net.JoinHostPort(tt.host, strconv.Itoa(int(port))) + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if !slices.Equal(lookups, tt.lookups) {
				t.Errorf("lookups = %v, want %v", lookups, tt.lookups)
			}
			if got := connects.got(); !slices.Equal(got, tt.connects) {
				t.Errorf("connects = %v, want %v", got, tt.connects)
			}
		})
	}
}

func TestDialContextResolverFailures(t *testing.T) {
	t.Parallel()
	var connects connectLog
	g := New(Config{
		Allow: MustParseCIDRs(t, "127.0.0.0/8, ::1"),
		Resolver: staticResolver(map[string][]string{
			"empty.test": {},
			"v6.test":    {"::1"},
		}),
	})
	dial := g.DialContext(connects.dialer())
	tests := []struct {
		network, address string
		want             string
	}{
		{"tcp", "missing.test:80", "no such host"},
		{"tcp", "empty.test:80", "no such host"},
		{"tcp4", "v6.test:80", "no suitable address"},
		{"tcp", "no-port.test", "missing port"},
		{"tcp", "hooks.test:http", "invalid port"},
	}
	for _, tt := range tests {
		_, err := dial(t.Context(), tt.network, tt.address)
		if err == nil || errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("dial %s %s: %v, want an error mentioning %q, not ErrBlocked", tt.network, tt.address, err, tt.want)
		}
	}
	if got := connects.got(); len(got) != 0 {
		t.Errorf("base dialer reached connect for %v, want none", got)
	}
}

// The connect-time hook refuses on its own, covering a dial that reaches
// the socket with an address the resolution step never saw (rebinding).
func TestControl(t *testing.T) {
	t.Parallel()
	allowLoopback := New(Config{Allow: MustParseCIDRs(t, "127.0.0.0/8, ::1")})
	tests := []struct {
		network, address string
		g                *Guard
		blocked          bool
	}{
		{"tcp4", "127.0.0.1:80", New(Config{}), true},
		{"tcp6", "[::1]:80", New(Config{}), true},
		{"tcp6", "[::ffff:127.0.0.1]:80", New(Config{}), true},
		{"tcp4", "169.254.169.254:80", New(Config{}), true},
		{"tcp4", "10.0.0.1:443", New(Config{}), true},
		{"tcp6", "[fe80::1%lo]:80", New(Config{}), true},
		{"tcp6", "[fd00:ec2::254]:80", New(Config{}), true},
		{"tcp4", "0.0.0.0:80", New(Config{}), true},
		{"tcp4", "not an address", New(Config{}), true},
		{"tcp4", "localhost:80", allowLoopback, true},
		{"tcp4", "8.8.8.8:443", New(Config{}), false},
		{"tcp6", "[2606:4700::1111]:443", New(Config{}), false},
		{"tcp6", "[::ffff:8.8.8.8]:443", New(Config{}), false},
		{"tcp4", "127.0.0.1:80", allowLoopback, false},
		{"tcp6", "[::ffff:127.0.0.1]:80", allowLoopback, false},
		{"tcp6", "[::1]:80", allowLoopback, false},
		{"tcp4", "10.0.0.1:80", allowLoopback, true},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			t.Parallel()
			err := tt.g.control(tt.network, tt.address, nil)
			if tt.blocked != errors.Is(err, ErrBlocked) || (!tt.blocked && err != nil) {
				t.Fatalf("control(%s, %s) = %v, want blocked %v", tt.network, tt.address, err, tt.blocked)
			}
		})
	}
}

func TestGuardedDialerRefusesAtConnect(t *testing.T) {
	t.Parallel()
	ln, port := quietListener(t)
	var connects connectLog
	d := New(Config{}).guardedDialer(connects.dialer())
	conn, err := d.DialContext(t.Context(), "tcp4", "127.0.0.1:"+port)
	if err == nil {
		conn.Close()
		t.Fatal("dial succeeded, want refusal")
	}
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("dial: %v, want ErrBlocked", err)
	}
	if got := connects.got(); len(got) != 0 {
		t.Errorf("base control ran for %v, want the guard to stop first", got)
	}
	assertNoConnections(t, ln)
}

func TestGuardedDialerChainsControl(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	g := New(Config{Allow: MustParseCIDRs(t, "127.0.0.1")})
	var calls []string
	base := &net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		calls = append(calls, address)
		return nil
	}}
	conn, err := g.DialContext(base)(t.Context(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if want := []string{srv.Listener.Addr().String()}; !slices.Equal(calls, want) {
		t.Errorf("base Control calls = %v, want %v", calls, want)
	}
	if base.ControlContext != nil || base.Control == nil {
		t.Error("DialContext modified the caller's dialer")
	}
}

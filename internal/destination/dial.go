package destination

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// Resolver resolves host names; *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// DialContext returns a dial function for http.Transport.DialContext. It
// resolves the host with the Guard's Resolver (an IP-literal host, in any
// spelling CheckURL accepts, skips resolution), refuses without connecting
// anywhere if any resolved address is refused, and otherwise dials the
// addresses in order with a copy of dialer until one connects. The copy
// also gets a Control hook that checks the socket's address once more just
// before it connects. Refusals are *net.OpError values wrapping an error
// that wraps ErrBlocked. dialer is not modified; its own Control or
// ControlContext still runs, after the guard's check.
func (g *Guard) DialContext(dialer *net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	d := g.guardedDialer(dialer)
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		return g.dial(ctx, d, network, address)
	}
}

// guardedDialer copies base and chains the guard's connect-time check in
// front of base's own control hook.
func (g *Guard) guardedDialer(base *net.Dialer) *net.Dialer {
	d := *base
	next := d.ControlContext
	if next == nil && d.Control != nil {
		c := d.Control
		next = func(_ context.Context, network, address string, rc syscall.RawConn) error {
			return c(network, address, rc)
		}
	}
	d.Control = nil
	d.ControlContext = func(ctx context.Context, network, address string, rc syscall.RawConn) error {
		if err := g.control(network, address, rc); err != nil {
			return err
		}
		if next != nil {
			return next(ctx, network, address, rc)
		}
		return nil
	}
	return &d
}

// control is the connect-time check: net.Dialer calls it with the literal
// address after creating the socket and before connecting it.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check address %q", ErrBlocked, address)
	}
	return g.CheckIP(ap.Addr())
}

func (g *Guard) dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var family string
	switch network {
	case "tcp":
		family = "ip"
	case "tcp4":
		family = "ip4"
	case "tcp6":
		family = "ip6"
	default:
		return fail(fmt.Errorf("%w: network %q is not tcp", ErrBlocked, network))
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return fail(err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return fail(fmt.Errorf("invalid port %q", portStr))
	}
	// As with net.Dialer, Timeout and Deadline bound the whole dial,
	// resolution included, not each address tried.
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if !d.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Deadline)
		defer cancel()
	}

	addrs := make([]netip.Addr, 1)
	if ip, ok := parseIPLiteral(host); ok {
		addrs[0] = ip
	} else if addrs, err = g.resolver.LookupNetIP(ctx, family, host); err != nil {
		return fail(err)
	}
	if len(addrs) == 0 {
		return fail(&net.DNSError{Err: "no such host", Name: host, IsNotFound: true})
	}
	// One refused address refuses the name: a name that mixes public and
	// internal addresses is an attack or a mistake either way.
	for _, ip := range addrs {
		if err := g.check(host, ip); err != nil {
			return fail(err)
		}
	}

	var first error
	tried := false
	for _, ip := range addrs {
		ip = ip.Unmap()
		if (network == "tcp4" && !ip.Is4()) || (network == "tcp6" && !ip.Is6()) {
			continue
		}
		tried = true
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if !tried {
		return fail(&net.AddrError{Err: "no suitable address found", Addr: host})
	}
	return nil, first
}

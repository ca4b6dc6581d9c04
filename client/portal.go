package client

import (
	"context"
	"net/http"
	"time"
)

// PortalSession is a single-use link that signs its opener in to the
// workspace's dashboard.
type PortalSession struct {
	// URL is the link: redirect the user to it or put it in an iframe.
	URL string `json:"url"`
	// ExpiresAt is when the link stops working if nobody opened it.
	ExpiresAt time.Time `json:"expires_at"`
}

// CreatePortalSession issues a dashboard link for the signed-in user of
// the Trackelio app. It is retried like a read: a link made by an attempt
// whose answer was lost is known to nobody and expires unused.
func (c *Client) CreatePortalSession(ctx context.Context) (PortalSession, error) {
	var s PortalSession
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/v1/portal-sessions", idempotent: true}, &s)
	return s, err
}

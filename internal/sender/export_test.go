package sender

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
)

// SetRootCAs makes s trust the certificates in pool, such as those of
// httptest's TLS servers. Call it before the first Send.
func SetRootCAs(s *Sender, pool *x509.CertPool) {
	s.client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
}

package signature_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/trackelio/webhooks/signature"
)

func ExampleSign() {
	fmt.Println(signature.Sign("whsec_test", []byte(`{"id":"evt_1","type":"post.created"}`)))
	// Output: 73c575b6826d6beecbdf504196810c7ce1597aacd1fd353a9382c3b4973cb452
}

func ExampleSignStandard() {
	sig, err := signature.SignStandard("whsec_test", "msg_2ZbFQqHYC3PnWx1j", time.Unix(1700000000, 0),
		[]byte(`{"id":"evt_1","type":"post.created"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sig)
	// Output: v1,dZsub6GMtL0Ku9u15/6biCuDH/fbukWpPlVgMl9vGdQ=
}

func ExampleMiddleware_Wrap() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	handleEvent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "received %s", body)
	})
	h := signature.Middleware{Secrets: []string{secret}, RequireTimestamp: true}.Wrap(handleEvent)

	// send signs body the way Trackelio does and passes it to h.
	send := func(body, signedBody string) {
		now := time.Now()
		std, _ := signature.SignStandard(secret, "msg_1", now, []byte(signedBody))
		req := httptest.NewRequest(http.MethodPost, "/webhooks/trackelio", strings.NewReader(body))
		req.Header.Set(signature.Header, signature.Sign(secret, []byte(signedBody)))
		req.Header.Set(signature.HeaderID, "msg_1")
		req.Header.Set(signature.HeaderTimestamp, fmt.Sprint(now.Unix()))
		req.Header.Set(signature.HeaderSignature, std)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	send(`{"type":"post.created"}`, `{"type":"post.created"}`)
	send(`{"type":"post.deleted"}`, `{"type":"post.created"}`)
	// Output:
	// 200 received {"type":"post.created"}
	// 401 invalid signature
}

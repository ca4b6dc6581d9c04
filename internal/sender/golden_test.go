package sender_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackelio/webhooks/internal/catalog"
	"github.com/trackelio/webhooks/internal/delivery"
	"github.com/trackelio/webhooks/internal/manage"
	"github.com/trackelio/webhooks/internal/sender"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/ with the requests sent now")

// TestOutgoingBytesGolden pins, for every event type, the exact bytes one
// attempt puts on the wire: request line, header names, casing, order and
// values (both signatures included), and the body as manage renders the
// catalog's example. Clock, ids and secret are fixed, so any change to
// what receivers get shows up as a diff; rewrite with -update after
// reading it.
func TestOutgoingBytesGolden(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 14, 3, 27, 123456000, time.UTC)
	const (
		eventID     = "01a00000-0000-7000-8000-0000000000e1"
		workspaceID = "01a00000-0000-7000-8000-0000000000a1"
		deliveryID  = "01a00000-0000-7000-8000-0000000000d1"
	)
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("golden-secret-of-32-bytes-long!!"))
	svc := manage.New(manage.Config{Now: func() time.Time { return at }})
	s := sender.New(sender.Config{Timeout: 5 * time.Second, UserAgent: "Trackelio-Webhooks/golden", Now: func() time.Time { return at }})

	examples := catalog.MustLoadSchemas()
	for _, c := range catalog.All() {
		typ := c.Type
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			ev, err := svc.NewEvent(workspaceID, typ, examples.Example(typ), "")
			if err != nil {
				t.Fatal(err)
			}
			body := bytes.Replace(ev.Body, []byte(ev.ID), []byte(eventID), 1)
			raw := capture(t, func(url string) {
				res := s.Send(context.Background(), sender.Request{URL: url + "/hooks/trackelio?source=golden", Body: body,
					Secret: secret, EventType: typ, DeliveryID: deliveryID})
				if res.Outcome != delivery.Success {
					t.Errorf("attempt %s: %s", res.Outcome, res.Error)
				}
			})
			file := filepath.Join("testdata", "golden", typ+".http")
			if *update {
				if err := os.WriteFile(file, raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./sender -run Golden -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(raw)); diff != "" {
				t.Errorf("bytes sent for %s differ from %s (-golden +now):\n%s", typ, file, diff)
			}
		})
	}
}

// capture runs send against a loopback listener that records the raw bytes
// of the one request it gets and answers 204. The listener's port, the one
// part that changes from run to run, becomes PORT.
func capture(t *testing.T, send func(url string)) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer conn.Close()
		var raw bytes.Buffer
		req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(conn, &raw)))
		if err == nil {
			_, err = io.Copy(io.Discard, req.Body)
		}
		if err != nil {
			got <- nil
			return
		}
		io.WriteString(conn, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
		got <- raw.Bytes()
	}()
	send("http://" + ln.Addr().String())
	raw := <-got
	if raw == nil {
		t.Fatal("the listener got no whole request")
	}
	return []byte(strings.ReplaceAll(string(raw), ln.Addr().String(), "127.0.0.1:PORT"))
}

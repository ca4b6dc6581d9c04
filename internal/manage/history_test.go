package manage

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trackelio/webhooks/repo"
)

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	d := repo.Delivery{ID: uuid.NewString(), CreatedAt: time.Date(2026, 12, 1, 10, 11, 12, 123456000, time.UTC)}
	for _, newer := range []bool{false, true} {
		c, err := decodeCursor(encodeCursor(d, newer))
		if err != nil || c.ID != d.ID || !c.CreatedAt.Equal(d.CreatedAt) || c.Newer != newer {
			t.Errorf("decodeCursor(encodeCursor(d, %v)) = %+v, %v; want %s at %v", newer, c, err, d.ID, d.CreatedAt)
		}
	}
}

// FuzzDecodeCursor: a cursor comes from the query string, so any text must
// either decode to a position with a real UUID or be refused as a 422
// naming the cursor field; never a panic, never a half-read position.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(repo.Delivery{ID: "01a2333a-d93c-7155-b38e-f7f1a24b9f0c", CreatedAt: time.Now()}, false))
	f.Add(encodeCursor(repo.Delivery{ID: "01a2333a-d93c-7155-b38e-f7f1a24b9f0c", CreatedAt: time.Now()}, true))
	f.Add("")
	f.Add("MjAyNi0xMi0wMVQxMDoxMToxMlp8bm90LWEtdXVpZA") // "2026-12-01T10:11:12Z|not-a-uuid"
	f.Add("fA")                                         // "|"
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			var fe FieldErrors
			if !errors.As(err, &fe) || fe[0].Field != "cursor" {
				t.Fatalf("decodeCursor(%q) error %v does not name the cursor", s, err)
			}
			return
		}
		if _, err := uuid.Parse(c.ID); err != nil {
			t.Fatalf("decodeCursor(%q) = %+v: accepted a position that is not one", s, c)
		}
	})
}

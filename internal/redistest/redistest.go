// Package redistest gives each test its own Redis database number on the
// real local server, flushed before and after, so test packages can run in
// parallel and leave nothing behind.
package redistest

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// serverURL is the server tests use: TEST_REDIS_URL or the local default.
func serverURL() string {
	return cmp.Or(os.Getenv("TEST_REDIS_URL"), "redis://127.0.0.1:6379/0")
}

// firstTestDB to lastTestDB are the database numbers handed out to tests;
// DB 0 holds the claims and is left to `make run`.
const firstTestDB, lastTestDB = 1, 15

// NewDB claims a Redis database number no other test is using, flushes it,
// and returns its URL; the database is flushed and released when the test
// ends. The claims are shared with every test process on the server, so
// test binaries running at once never get the same number.
func NewDB(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	opt, err := redis.ParseURL(serverURL())
	if err != nil {
		tb.Fatalf("redistest: bad redis url: %v", err)
	}
	ctl := redis.NewClient(opt)
	defer ctl.Close()
	if err := ctl.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redistest: Redis at %s is not reachable (start it, or set TEST_REDIS_URL): %v", serverURL(), err)
	}
	token := rand.Text() // marks the claim as this test's, for its cleanup
	deadline := time.Now().Add(2 * time.Minute)
	for {
		for db := firstTestDB; db <= lastTestDB; db++ {
			// Every test process on the server claims with this key,
			// those of other checkouts too: keep its name.
			key := fmt.Sprintf("trackelio:testenv:db:%d", db)
			ok, err := ctl.SetNX(ctx, key, token, 15*time.Minute).Result()
			if err != nil {
				tb.Fatalf("redistest: claim redis db: %v", err)
			}
			if !ok {
				continue
			}
			dbOpt := *opt
			dbOpt.DB = db
			c := redis.NewClient(&dbOpt)
			c.FlushDB(ctx)
			c.Close()
			tb.Cleanup(func() {
				c := redis.NewClient(&dbOpt)
				c.FlushDB(context.Background())
				c.Close()
				ctl := redis.NewClient(opt)
				defer ctl.Close()
				if v, _ := ctl.Get(context.Background(), key).Result(); v == token {
					ctl.Del(context.Background(), key)
				}
			})
			u, _ := url.Parse(serverURL())
			u.Path = fmt.Sprintf("/%d", db)
			return u.String()
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: no free redis database among %d..%d", firstTestDB, lastTestDB)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// NewClient returns a go-redis client on a database of NewDB's, closed
// when the test ends.
func NewClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(NewDB(tb))
	if err != nil {
		tb.Fatalf("redistest: parse url: %v", err)
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

package boot_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/trackelio/webhooks/cmd/internal/boot"
)

// TestParseRedis: every REDIS_URL form the README documents gives the
// options asynq and the service's own client are built from; anything else
// is refused naming REDIS_URL.
func TestParseRedis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want asynq.RedisConnOpt
	}{
		{"redis://127.0.0.1:6379/3", asynq.RedisClientOpt{Addr: "127.0.0.1:6379", DB: 3}},
		{"redis://:pw@redis.internal:6380", asynq.RedisClientOpt{Addr: "redis.internal:6380", Password: "pw"}},
		{"redis-sentinel://10.0.0.1:26379,10.0.0.2:26379?master=trackelio",
			asynq.RedisFailoverClientOpt{MasterName: "trackelio", SentinelAddrs: []string{"10.0.0.1:26379", "10.0.0.2:26379"}}},
	} {
		got, err := boot.ParseRedis(tc.url)
		if err != nil {
			t.Errorf("ParseRedis(%q): %v", tc.url, err)
			continue
		}
		if gotS, wantS := describe(got), describe(tc.want); gotS != wantS {
			t.Errorf("ParseRedis(%q) = %s, want %s", tc.url, gotS, wantS)
		}
		c, err := boot.RedisClient(got)
		if err != nil {
			t.Errorf("RedisClient(%q): %v", tc.url, err)
			continue
		}
		c.Close()
	}
	for _, bad := range []string{"", "http://127.0.0.1:6379", "redis://127.0.0.1:6379/x", "redis-sentinel://10.0.0.1:26379"} {
		if _, err := boot.ParseRedis(bad); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
			t.Errorf("ParseRedis(%q) = %v, want an error naming REDIS_URL", bad, err)
		}
	}
}

// describe prints options without their TLS config and other pointers.
func describe(o asynq.RedisConnOpt) string {
	switch o := o.(type) {
	case asynq.RedisClientOpt:
		return "client " + o.Addr + " db " + strconv.Itoa(o.DB) + " password " + o.Password
	case asynq.RedisFailoverClientOpt:
		return "sentinel " + o.MasterName + " " + strings.Join(o.SentinelAddrs, ",")
	}
	return "unexpected"
}

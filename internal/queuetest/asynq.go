package queuetest

import (
	"testing"

	"github.com/hibiken/asynq"
)

// RedisOpt is asynq's connection options for the Redis database at url.
func RedisOpt(tb testing.TB, url string) asynq.RedisConnOpt {
	tb.Helper()
	opt, err := asynq.ParseRedisURI(url)
	if err != nil {
		tb.Fatalf("queuetest: ParseRedisURI: %v", err)
	}
	return opt
}

// NewClient is an asynq client of the queues at opt, closed when the test
// ends.
func NewClient(tb testing.TB, opt asynq.RedisConnOpt) *asynq.Client {
	tb.Helper()
	c := asynq.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	return c
}

// NewInspector is an asynq inspector of the queues at opt, closed when the
// test ends.
func NewInspector(tb testing.TB, opt asynq.RedisConnOpt) *asynq.Inspector {
	tb.Helper()
	i := asynq.NewInspector(opt)
	tb.Cleanup(func() { i.Close() })
	return i
}

package jobs

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// RetryAfterError asks asynq to run the task again after Delay. Failure says
// whether it counts as a failed attempt in asynq's statistics.
type RetryAfterError struct {
	Delay   time.Duration
	Failure bool
	Reason  string
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%s; next try in %s", e.Reason, e.Delay)
}

// RetryDelay is the server's RetryDelayFunc: typed errors carry their delay;
// anything else (a database outage, a lease lost to a crashed worker) made no
// recorded attempt and is retried soon with a short exponential backoff.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return untilWholeSecond(time.Now(), ra.Delay)
	}
	return min(time.Second<<min(n, 6), time.Minute)
}

// untilWholeSecond stretches a delay so it ends on a whole second. asynq
// keeps due times in whole seconds (truncating) and releases a task once the
// clock's second reaches it, so an unrounded due time could run a retry up
// to a second early, before a receiver's Retry-After.
func untilWholeSecond(now time.Time, d time.Duration) time.Duration {
	return ceilSecond(now.Add(d)).Sub(now)
}

// ceilSecond rounds t up to a whole second.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// IsFailure tells asynq which errors are failures; waiting for a due time is not.
func IsFailure(err error) bool {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.Failure
	}
	return true
}

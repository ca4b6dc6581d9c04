package delivery

import (
	"fmt"
	"strings"
)

// Status is where a delivery stands. The values are stored, shown by the API
// and used as metric labels.
type Status string

// Delivery statuses. Pending is the only unfinished one.
const (
	StatusPending   Status = "pending"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Statuses lists the delivery statuses in the order the dashboard offers them.
var Statuses = []Status{StatusSucceeded, StatusFailed, StatusPending, StatusCancelled}

// ParseStatus returns the status named s, or an error that lists them.
func ParseStatus(s string) (Status, error) {
	names := make([]string, len(Statuses))
	for i, st := range Statuses {
		if string(st) == s {
			return st, nil
		}
		names[i] = string(st)
	}
	return "", fmt.Errorf("status must be one of %s", strings.Join(names, ", "))
}

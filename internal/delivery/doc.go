// Package delivery holds the rules of a delivery's life, and nothing else:
// what an attempt's answer means (Decide), when a failed delivery is tried
// again (RetryPolicy), and how attempts fold into a webhook's health until it
// is disabled (Health.Apply with AutoDisable).
//
// Every function here is pure and the package imports only the standard
// library, so each rule is read in one place and tested without a database,
// a queue or a network. The worker (package jobs) decides through delivery,
// then acts through repo and sender; repo stores what these rules produce.
package delivery

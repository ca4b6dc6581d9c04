package repo

// The SQL of the dashboard's reads, so tests can look at their plans.
var (
	DeliveriesQuery = deliveriesQuery
	HourlyCountsSQL = hourlyCountsSQL
	LastAttemptsSQL = lastAttemptsSQL
	SuccessRatesSQL = successRatesSQL
)

package repo

// The SQL of the dashboard's reads and of data retention, so tests can look
// at their plans.
var (
	DeliveriesQuery = deliveriesQuery
	HourlyCountsSQL = hourlyCountsSQL
	LastAttemptsSQL = lastAttemptsSQL
	SuccessRatesSQL = successRatesSQL

	LockFinishedSQL   = lockFinishedSQL
	DeleteFinishedSQL = deleteFinishedSQL
	EventsPageSQL     = eventsPageSQL
	LockEventsSQL     = lockEventsSQL
	DeleteEventsSQL   = deleteEventsSQL
)

package jobs

// Names the black-box tests use that are not part of the package's API.

// TaskLocation is taskLocation, which the tests check directly.
var TaskLocation = taskLocation

// RetentionCutoff is retentionCutoff, which the tests check directly.
var RetentionCutoff = retentionCutoff

// SweepPayload is sweepPayload, which the tests decode from a task.
type SweepPayload = sweepPayload

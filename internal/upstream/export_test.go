package upstream

import "time"

// Test-only knobs for the external tests (package upstream_test).

// WithTransientRetries returns o retrying a vendor "0001" n times.
func (o Options) WithTransientRetries(n int) Options {
	o.transientRetries = n
	return o
}

// WithBackoffBase returns o with d as the first retry delay.
func (o Options) WithBackoffBase(d time.Duration) Options {
	o.backoffBase = d
	return o
}

// WithCallReserve returns o keeping d of the deadline for the call itself.
func (o Options) WithCallReserve(d time.Duration) Options {
	o.callReserve = d
	return o
}

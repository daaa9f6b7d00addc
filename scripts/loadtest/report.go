package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// percentiles returns p50, p90, p99 and max, rounded for reading.
func percentiles(ds []time.Duration) [4]time.Duration {
	var p [4]time.Duration
	if len(ds) == 0 {
		return p
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))]
	}
	for i, q := range []float64{0.50, 0.90, 0.99} {
		p[i] = round(at(q))
	}
	p[3] = round(s[len(s)-1])
	return p
}

// round rounds d to three significant digits or so, for reading.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// mib is b bytes in MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }

// perRequest prints CPU times divided by a request count, in µs.
func perRequest(requests int64, ds ...time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(max(1, requests)))
	}
	return strings.Join(parts, ", ") + " µs"
}

// cpuMicros is CPU time per request, in µs.
func cpuMicros(cpu time.Duration, requests int64) float64 {
	return float64(cpu.Microseconds()) / float64(max(1, requests))
}

// median is the median of xs (the mean of the middle two when even); 0 for
// none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// quartiles are the medians of the lower and upper halves of xs (with
// the middle value in neither when their number is odd): the spread a
// median of noisy rounds comes with. 0, 0 for none.
func quartiles(xs []float64) (lower, upper float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	return median(s[:n/2]), median(s[(n+1)/2:])
}

// kib is a size in bytes for reading: B, KB or MB.
func kib(n int) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
}

package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server. The zero value is a permissive emulator that
// serves Samples to any non-empty key, without limits, latency or faults.
type Options struct {
	// Addr is the TCP address Start listens on; default a free loopback
	// port (127.0.0.1:0).
	Addr string
	// Keys are the accepted API keys. Empty means any non-empty key is
	// accepted. Other keys get code 9009.
	Keys []string
	// Videos are served to every accepted key; nil means Samples(). Pass an
	// empty non-nil slice for an emulator with no shared videos. When two
	// entries share (unique_id, video_no), the later one wins.
	Videos []Video
	// AccountVideos are served only to the key they are listed under and
	// take precedence over an entry of Videos with the same (unique_id,
	// video_no). Listing a key here does not make it accepted; see Keys.
	// It is a test hook.
	AccountVideos map[string][]Video
	// RateLimit is each key's sustained limit in requests per second;
	// 0 means unlimited.
	RateLimit float64
	// Burst is each key's bucket size; 0 means 1 when RateLimit > 0.
	Burst int
	// RateLimitStatus is the HTTP status of 0429 answers; default 200, as
	// the vendor sends it. Tests of the other style use 429.
	RateLimitStatus int
	// RetryAfterHeader adds a Retry-After header (whole seconds, rounded up,
	// at least 1) to 0429 answers.
	RetryAfterHeader bool
	// Latency delays every answer; it stops waiting when the client goes
	// away. SetLatency changes it at run time.
	Latency time.Duration
	// Faults makes get_metadata requests for the listed video numbers
	// misbehave. List calls have their own faults, ListFaults. It is a
	// test hook.
	Faults map[string]Fault
	// ListPageCap is the largest page ListPath honours: a larger size gets
	// pages of ListPageCap items, and the answer's page_size says so. 0
	// means DefaultListPageCap; negative is invalid.
	ListPageCap int
	// ListRateLimit is each key's sustained limit for ListPath in requests
	// per second; 0 means unlimited. It is a budget of its own: RateLimit
	// only limits MetadataPath. RateLimitStatus and RetryAfterHeader apply
	// to both.
	ListRateLimit float64
	// ListBurst is each key's bucket size for ListPath; 0 means 1 when
	// ListRateLimit > 0.
	ListBurst int
	// ListFaults makes list calls misbehave, as a whole, when they name one
	// of the listed video numbers in video_nos or video_no. It is a test
	// hook.
	ListFaults map[string]Fault
	// ListDisabled makes ListPath answer like an upstream without the
	// endpoint: HTTP 404 with the 0404 envelope, before any other check.
	// SetListDisabled changes it at run time.
	ListDisabled bool
	// ListNumbersAsStrings sends the numeric fields of list items
	// (duration, size, create_time, datetime_taken, latitude, longitude)
	// and current_page, page_size and total_count as JSON strings, as the
	// vendor's older list endpoint did. It is a test hook.
	ListNumbersAsStrings bool
	// Logger receives one debug record per request and notable events; nil
	// discards them. API keys are never logged, only a short hash.
	Logger *slog.Logger
}

// validate reports options a Server cannot run with.
func (o Options) validate() error {
	var errs []error
	errs = append(errs, validateLimit("", o.RateLimit, o.Burst)...)
	if o.RateLimitStatus != 0 && !validStatus(o.RateLimitStatus) {
		errs = append(errs, fmt.Errorf("rate limit status %d is not an HTTP status", o.RateLimitStatus))
	}
	if o.Latency < 0 {
		errs = append(errs, fmt.Errorf("latency %v must be >= 0", o.Latency))
	}
	for i, v := range o.Videos {
		if _, err := v.VideoNo(); err != nil {
			errs = append(errs, fmt.Errorf("videos[%d]: %w", i, err))
		}
	}
	for key, vs := range o.AccountVideos {
		if key == "" {
			errs = append(errs, errors.New("account videos: empty key"))
		}
		for i, v := range vs {
			if _, err := v.VideoNo(); err != nil {
				errs = append(errs, fmt.Errorf("account videos of key %s[%d]: %w", shortHash(key), i, err))
			}
		}
	}
	errs = append(errs, validateFaults("", o.Faults)...)
	if o.ListPageCap < 0 {
		errs = append(errs, fmt.Errorf("list page cap %d must be >= 0", o.ListPageCap))
	}
	errs = append(errs, validateLimit("list ", o.ListRateLimit, o.ListBurst)...)
	errs = append(errs, validateFaults("list ", o.ListFaults)...)
	return errors.Join(errs...)
}

// validateLimit reports an impossible per-key rate limit or burst; prefix
// names the endpoint in the errors ("" for get_metadata).
func validateLimit(prefix string, limit float64, burst int) []error {
	var errs []error
	if math.IsNaN(limit) || limit < 0 {
		errs = append(errs, fmt.Errorf("%srate limit %v must be a number >= 0", prefix, limit))
	}
	if burst < 0 {
		errs = append(errs, fmt.Errorf("%sburst %d must be >= 0", prefix, burst))
	}
	return errs
}

// validateFaults reports faults that cannot be served; prefix names the
// endpoint in the errors ("" for get_metadata).
func validateFaults(prefix string, faults map[string]Fault) []error {
	var errs []error
	for no, f := range faults {
		if no == "" {
			errs = append(errs, fmt.Errorf("%sfaults: empty video_no", prefix))
		}
		if err := f.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%sfault for %s: %w", prefix, no, err))
		}
	}
	return errs
}

// Server is a memories.ai get_metadata and list_videos emulator. Its
// methods are safe for concurrent use.
type Server struct {
	keys             map[string]bool // accepted keys by KeyHash; empty = any
	rateLimitStatus  int
	retryAfterHeader bool
	logger           *slog.Logger
	handler          http.Handler
	latency          atomic.Int64 // time.Duration

	// meta and list are the state of MetadataPath and ListPath.
	meta, list *endpoint

	// How ListPath renders its answers.
	listPageCap          int
	listNumbersAsStrings bool
	listItems            sync.Map // stored data (as a string) -> its rendered list item

	// mu guards the stored videos and the endpoints' buckets, faults and
	// counters.
	mu       sync.Mutex
	videos   map[videoRef]json.RawMessage            // served to every key
	accounts map[string]map[videoRef]json.RawMessage // by KeyHash
	later    map[storeKey]*later                     // what videos with a Then become
	orders   map[libraryKey][]string                 // library orders, until a video changes

	// done is closed by Close to release hanging and delayed requests.
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	// Set by Start before it returns, then read-only.
	httpServer *http.Server
	url        string
	served     chan struct{} // closed when Serve returns
	serveErr   error         // Serve's error, readable once served is closed
}

// New returns a Server configured by opts that is not listening; use
// Handler to mount it, or Start to listen. New panics if opts are invalid
// (a video without a string video_no, a negative rate, an impossible HTTP
// status): they are programming errors in a test's setup. Start reports the
// same problems as an error instead.
func New(opts Options) *Server {
	if err := opts.validate(); err != nil {
		panic(fmt.Sprintf("emulator: invalid options: %v", err))
	}
	return newServer(opts)
}

// newServer builds a Server from validated options.
func newServer(opts Options) *Server {
	s := &Server{
		keys:             map[string]bool{},
		rateLimitStatus:  opts.RateLimitStatus,
		retryAfterHeader: opts.RetryAfterHeader,
		logger:           opts.Logger,
		videos:           map[videoRef]json.RawMessage{},
		accounts:         map[string]map[videoRef]json.RawMessage{},
		later:            map[storeKey]*later{},
		done:             make(chan struct{}),

		meta: newEndpoint(http.MethodGet, opts.RateLimit, opts.Burst, opts.Faults),
		list: newEndpoint(http.MethodPost, opts.ListRateLimit, opts.ListBurst, opts.ListFaults),

		listPageCap:          opts.ListPageCap,
		listNumbersAsStrings: opts.ListNumbersAsStrings,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.rateLimitStatus == 0 {
		s.rateLimitStatus = http.StatusOK
	}
	if s.listPageCap == 0 {
		s.listPageCap = DefaultListPageCap
	}
	s.list.disabled.Store(opts.ListDisabled)
	s.latency.Store(int64(opts.Latency))
	for _, k := range opts.Keys {
		s.keys[KeyHash(k)] = true
	}
	videos := opts.Videos
	if videos == nil {
		videos = Samples()
	}
	for _, v := range videos {
		s.storeLocked("", v)
	}
	for key, vs := range opts.AccountVideos {
		for _, v := range vs {
			s.storeLocked(key, v)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc(MetadataPath, s.serveMetadata)
	mux.HandleFunc(ListPath, s.serveList)
	mux.HandleFunc("/", s.serveNotFound)
	s.handler = mux
	return s
}

// Handler returns the HTTP handler serving MetadataPath and ListPath;
// other paths get a 404 envelope.
func (s *Server) Handler() http.Handler { return s.handler }

// serveNotFound answers paths the emulator does not serve.
func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	notFoundAnswer().write(w)
}

// notFoundAnswer is the answer for a path without an endpoint.
func notFoundAnswer() answer {
	return errorAnswer(http.StatusNotFound, codeNotFound, msgNotFound)
}

// shortHash identifies a key in logs without revealing it.
func shortHash(key string) string {
	if key == "" {
		return ""
	}
	return KeyHash(key)[:12]
}

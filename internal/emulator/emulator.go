package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memories-facade/memories-graphql/internal/authheader"
	"golang.org/x/time/rate"
)

// MetadataPath is the path of the emulated endpoint, relative to the base URL.
const MetadataPath = "/serve/api/v1/get_metadata"

// defaultUniqueID is the unique_id assumed when a request does not give one.
const defaultUniqueID = "default"

// defaultAddr is where Start listens when Options.Addr is empty: a free
// loopback port, so parallel tests never collide.
const defaultAddr = "127.0.0.1:0"

// shutdownTimeout bounds the graceful part of Close; requests still running
// after it are cut off.
const shutdownTimeout = 5 * time.Second

// Video is one stored video.
type Video struct {
	// UniqueID is the scope the video was uploaded under; "" means "default".
	UniqueID string `json:"unique_id"`
	// Data is the upstream's data object, served byte for byte as given.
	// It must be a JSON object with a non-empty string video_no.
	Data json.RawMessage `json:"data"`
}

// VideoNo returns the video_no read from v.Data, or an error if Data is not
// a JSON object with a non-empty string video_no.
func (v Video) VideoNo() (string, error) {
	if !json.Valid(v.Data) {
		return "", errors.New("video data is not valid JSON")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v.Data, &fields); err != nil {
		return "", fmt.Errorf("video data is not a JSON object: %w", err)
	}
	raw, ok := fields["video_no"]
	if !ok {
		return "", errors.New("video data has no video_no")
	}
	var no string
	if err := json.Unmarshal(raw, &no); err != nil {
		return "", fmt.Errorf("video_no is not a string: %w", err)
	}
	if no == "" {
		return "", errors.New("video_no is empty")
	}
	return no, nil
}

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
	// misbehave. List calls have their own faults, ListFaults.
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
	// of the listed video numbers in video_nos or video_no.
	ListFaults map[string]Fault
	// ListDisabled makes ListPath answer like an upstream without the
	// endpoint: HTTP 404 with the 0404 envelope, before any other check.
	// SetListDisabled changes it at run time.
	ListDisabled bool
	// ListNumbersAsStrings sends the numeric fields of list items
	// (duration, size, create_time, datetime_taken, latitude, longitude)
	// and current_page, page_size and total_count as JSON strings, as the
	// vendor's older list endpoint did.
	ListNumbersAsStrings bool
	// Logger receives one debug record per request and notable events; nil
	// discards them. API keys are never logged, only a short hash.
	Logger *slog.Logger
}

// validate reports options a Server cannot run with.
func (o Options) validate() error {
	var errs []error
	if math.IsNaN(o.RateLimit) || o.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("rate limit %v must be a number >= 0", o.RateLimit))
	}
	if o.Burst < 0 {
		errs = append(errs, fmt.Errorf("burst %d must be >= 0", o.Burst))
	}
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
	for no, f := range o.Faults {
		if no == "" {
			errs = append(errs, errors.New("faults: empty video_no"))
		}
		if err := f.validate(); err != nil {
			errs = append(errs, fmt.Errorf("fault for %s: %w", no, err))
		}
	}
	if o.ListPageCap < 0 {
		errs = append(errs, fmt.Errorf("list page cap %d must be >= 0", o.ListPageCap))
	}
	if math.IsNaN(o.ListRateLimit) || o.ListRateLimit < 0 {
		errs = append(errs, fmt.Errorf("list rate limit %v must be a number >= 0", o.ListRateLimit))
	}
	if o.ListBurst < 0 {
		errs = append(errs, fmt.Errorf("list burst %d must be >= 0", o.ListBurst))
	}
	for no, f := range o.ListFaults {
		if no == "" {
			errs = append(errs, errors.New("list faults: empty video_no"))
		}
		if err := f.validate(); err != nil {
			errs = append(errs, fmt.Errorf("list fault for %s: %w", no, err))
		}
	}
	return errors.Join(errs...)
}

// videoRef identifies a stored video: the upstream scopes video numbers by
// unique_id.
type videoRef struct{ uniqueID, videoNo string }

// Server is a memories.ai get_metadata and list_videos emulator. Its
// methods are safe for concurrent use.
type Server struct {
	keys                 map[string]bool // accepted keys by KeyHash; empty = any
	rateLimit            rate.Limit      // 0 = unlimited
	burst                int
	listRateLimit        rate.Limit // 0 = unlimited
	listBurst            int
	listPageCap          int
	listNumbersAsStrings bool
	listItems            sync.Map // stored data (as a string) -> its rendered list item
	rateLimitStatus      int
	retryAfterHeader     bool
	logger               *slog.Logger
	handler              http.Handler
	latency              atomic.Int64 // time.Duration
	listDisabled         atomic.Bool

	mu           sync.Mutex
	videos       map[videoRef]json.RawMessage            // served to every key
	accounts     map[string]map[videoRef]json.RawMessage // by KeyHash
	faults       map[string]Fault                        // get_metadata's, by video_no; Times counts down
	listFaults   map[string]Fault                        // list_videos', by video_no; Times counts down
	limiters     map[string]*rate.Limiter                // get_metadata's, by KeyHash
	listLimiters map[string]*rate.Limiter                // list_videos', by KeyHash
	stats        counters

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
		faults:           map[string]Fault{},
		listFaults:       map[string]Fault{},
		limiters:         map[string]*rate.Limiter{},
		listLimiters:     map[string]*rate.Limiter{},
		stats:            newCounters(),
		done:             make(chan struct{}),

		listPageCap:          opts.ListPageCap,
		listNumbersAsStrings: opts.ListNumbersAsStrings,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.rateLimitStatus == 0 {
		s.rateLimitStatus = http.StatusOK
	}
	if opts.RateLimit > 0 {
		s.rateLimit = rate.Limit(opts.RateLimit)
		s.burst = max(opts.Burst, 1)
	}
	if opts.ListRateLimit > 0 {
		s.listRateLimit = rate.Limit(opts.ListRateLimit)
		s.listBurst = max(opts.ListBurst, 1)
	}
	if s.listPageCap == 0 {
		s.listPageCap = DefaultListPageCap
	}
	s.listDisabled.Store(opts.ListDisabled)
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
	for no, f := range opts.Faults {
		if f.Kind != 0 {
			s.faults[no] = f
		}
	}
	for no, f := range opts.ListFaults {
		if f.Kind != 0 {
			s.listFaults[no] = f
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc(MetadataPath, s.serveMetadata)
	mux.HandleFunc(ListPath, s.serveList)
	mux.HandleFunc("/", s.serveNotFound)
	s.handler = mux
	return s
}

// Start returns a Server configured by opts and listening on opts.Addr
// (default a free loopback port), serving in a background goroutine until
// Close.
func Start(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("emulator: invalid options: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = defaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen on %s: %w", addr, err)
	}
	s := newServer(opts)
	s.httpServer = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	s.url = "http://" + reachableHost(ln.Addr())
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.httpServer.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
	}()
	s.logger.Debug("memories.ai emulator listening", "url", s.url)
	return s, nil
}

// reachableHost returns addr as host:port a client can dial: a server
// bound to all interfaces is reached on loopback.
func reachableHost(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// Handler returns the HTTP handler serving MetadataPath and ListPath;
// other paths get a 404 envelope.
func (s *Server) Handler() http.Handler { return s.handler }

// URL returns the base URL of a started server, such as
// "http://127.0.0.1:41234" (no trailing slash), or "" if the server was
// made with New and is not listening.
func (s *Server) URL() string { return s.url }

// Close stops the server: it releases requests held by FaultHang or by
// latency (their connections are dropped), stops accepting connections and
// waits up to five seconds for answers in flight. It is safe to call more
// than once and on a server that never listened.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.httpServer == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.httpServer.Shutdown(ctx); err != nil {
			// Something outlived the grace period: cut it off.
			_ = s.httpServer.Close()
			s.closeErr = fmt.Errorf("emulator: shutdown: %w", err)
		}
		<-s.served
		s.logger.Debug("memories.ai emulator stopped", "url", s.url)
	})
	return s.closeErr
}

// SetFault makes get_metadata requests for videoNo misbehave as f
// describes, replacing any fault already set for it; a zero f.Kind removes
// it. It panics on an invalid fault (unknown kind, impossible status,
// negative Times). List calls have their own faults; see SetListFault.
func (s *Server) SetFault(videoNo string, f Fault) {
	if err := f.validate(); err != nil {
		panic(fmt.Sprintf("emulator: SetFault(%q): %v", videoNo, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	setFaultLocked(s.faults, videoNo, f)
}

// SetListFault makes list calls that name videoNo (in video_nos or
// video_no) misbehave as f describes, for the whole answer, replacing any
// list fault already set for it; a zero f.Kind removes it. Times counts
// list calls that used this fault. It panics on an invalid fault, like
// SetFault.
func (s *Server) SetListFault(videoNo string, f Fault) {
	if err := f.validate(); err != nil {
		panic(fmt.Sprintf("emulator: SetListFault(%q): %v", videoNo, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	setFaultLocked(s.listFaults, videoNo, f)
}

// setFaultLocked sets or, for a zero Kind, removes a fault in faults.
func setFaultLocked(faults map[string]Fault, videoNo string, f Fault) {
	if f.Kind == 0 {
		delete(faults, videoNo)
		return
	}
	faults[videoNo] = f
}

// ClearFaults removes every fault, of get_metadata and of list_videos.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
	clear(s.listFaults)
}

// SetListDisabled switches ListPath off (HTTP 404 with the 0404 envelope,
// as from an upstream without the endpoint) or back on.
func (s *Server) SetListDisabled(disabled bool) {
	s.listDisabled.Store(disabled)
}

// SetVideo adds or replaces a video. With key "" the video is served to
// every accepted key; otherwise only to key, taking precedence over a
// shared video with the same (unique_id, video_no). It panics if v.Data is
// not a JSON object with a non-empty string video_no.
func (s *Server) SetVideo(key string, v Video) {
	if _, err := v.VideoNo(); err != nil {
		panic(fmt.Sprintf("emulator: SetVideo: %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeLocked(key, v)
}

// storeLocked stores a copy of a validated video for key ("" = all keys).
// The copy keeps later changes to the caller's slice from reaching answers.
func (s *Server) storeLocked(key string, v Video) {
	no, _ := v.VideoNo()
	ref := videoRef{uniqueID: v.UniqueID, videoNo: no}
	if ref.uniqueID == "" {
		ref.uniqueID = defaultUniqueID
	}
	data := append(json.RawMessage(nil), v.Data...)
	if key == "" {
		s.videos[ref] = data
		return
	}
	h := KeyHash(key)
	if s.accounts[h] == nil {
		s.accounts[h] = map[videoRef]json.RawMessage{}
	}
	s.accounts[h][ref] = data
}

// SetLatency changes the delay added before every answer; d <= 0 removes it.
func (s *Server) SetLatency(d time.Duration) {
	s.latency.Store(int64(max(d, 0)))
}

// serveNotFound answers paths the emulator does not serve.
func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	notFoundAnswer().write(w)
}

// notFoundAnswer is the answer for a path without an endpoint.
func notFoundAnswer() answer {
	return errorAnswer(http.StatusNotFound, codeNotFound, msgNotFound)
}

// serveMetadata is the emulated endpoint. The answer is decided at arrival
// (so rate-limit decisions and arrival times match what the client sent)
// and written after the configured latency.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	key := apiKey(r.Header.Get("Authorization"))
	q := r.URL.Query()
	a := s.decide(r.Method, key, q)

	s.logger.LogAttrs(r.Context(), slog.LevelDebug, "get_metadata",
		slog.String("method", r.Method),
		slog.String("video_no", q.Get("video_no")),
		slog.String("unique_id", q.Get("unique_id")),
		slog.String("key", shortHash(key)),
		slog.String("outcome", a.outcome),
		slog.Int("status", a.status),
	)
	s.respond(w, r, a)
}

// respond carries out a decided answer: it hangs, waits for the configured
// latency, resets the connection or writes the answer.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, a answer) {
	if a.action == actionHang {
		select {
		case <-r.Context().Done():
		case <-s.done:
			abort(w)
		}
		return
	}
	if !s.delay(w, r) {
		return
	}
	if a.action == actionReset {
		abort(w)
		return
	}
	a.write(w)
}

// apiKey extracts the key from an Authorization header value: the vendor
// takes the raw key, and clients used to OAuth often send "Bearer <key>".
func apiKey(header string) string { return authheader.Credential(header) }

// shortHash identifies a key in logs without revealing it.
func shortHash(key string) string {
	if key == "" {
		return ""
	}
	return KeyHash(key)[:12]
}

// decide applies the checks in the vendor's order (auth, rate limit,
// parameters, then faults and lookup), updates the counters and returns
// the answer to send.
func (s *Server) decide(method, key string, q url.Values) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Taken under the lock so arrival times are ordered like the
	// rate-limit decisions made with them.
	now := time.Now()

	videoNo := q.Get("video_no")
	keyHash := ""
	if key != "" {
		keyHash = KeyHash(key)
	}
	st := &s.stats
	st.Requests++
	if videoNo != "" {
		st.ByVideo[videoNo]++
	}
	if keyHash != "" {
		st.ByKeyHash[keyHash]++
	}

	if a, refused := s.gateLocked(gate{
		method: method, allowed: http.MethodGet, key: key, keyHash: keyHash, now: now,
		limiters: s.limiters, limit: s.rateLimit, burst: s.burst,
		invalid: &st.Invalid, unauthorized: &st.Unauthorized, rateLimited: &st.RateLimited,
	}); refused {
		return a
	}

	uniqueID := defaultUniqueID
	if q.Has("unique_id") {
		uniqueID = q.Get("unique_id")
	}
	switch {
	case strings.TrimSpace(videoNo) == "":
		st.Invalid++
		return errorAnswer(http.StatusOK, codeParam, "video_no must not be empty")
	case strings.TrimSpace(uniqueID) == "":
		st.Invalid++
		return errorAnswer(http.StatusOK, codeParam, "unique_id must not be empty")
	}

	ref := videoRef{uniqueID: uniqueID, videoNo: videoNo}
	data, ok := s.accounts[keyHash][ref]
	if !ok {
		data = s.videos[ref]
	}
	normal := okAnswer(data)

	if f, ok := takeFaultLocked(s.faults, videoNo); ok {
		st.Faulted++
		a := faultAnswer(f, malformedMetadataBody(videoNo), normal)
		a.outcome = "fault_" + f.Kind.String()
		return a
	}
	st.recordServed(now)
	return normal
}

// gate is the checks both endpoints make first, and the counters each
// refusal adds to.
type gate struct {
	method, allowed string
	key, keyHash    string
	now             time.Time
	limiters        map[string]*rate.Limiter
	limit           rate.Limit
	burst           int
	invalid         *int64
	unauthorized    *int64
	rateLimited     *int64
}

// gateLocked applies the first checks in the vendor's order: the method,
// the key, then the rate limit. refused is true with the answer to send.
func (s *Server) gateLocked(g gate) (a answer, refused bool) {
	switch {
	case g.method != g.allowed:
		*g.invalid++
		a = errorAnswer(http.StatusMethodNotAllowed, codeParam, "method "+g.method+" not allowed, use "+g.allowed)
		a.allow = g.allowed
		return a, true
	case g.key == "":
		*g.unauthorized++
		return errorAnswer(http.StatusUnauthorized, codeUnauthorized, msgUnauthorized), true
	case len(s.keys) > 0 && !s.keys[g.keyHash]:
		*g.unauthorized++
		return errorAnswer(http.StatusOK, codeInvalidKey, msgInvalidKey), true
	}
	if a, limited := s.rateLimitLocked(g.limiters, g.limit, g.burst, g.keyHash, g.now); limited {
		*g.rateLimited++
		return a, true
	}
	return answer{}, false
}

// rateLimitLocked takes a token from the key's bucket in limiters (made
// with limit and burst on first use) and, when there is none, returns the
// 0429 answer and true. A zero limit never limits.
func (s *Server) rateLimitLocked(limiters map[string]*rate.Limiter, limit rate.Limit, burst int, keyHash string, now time.Time) (answer, bool) {
	if limit == 0 {
		return answer{}, false
	}
	lim, ok := limiters[keyHash]
	if !ok {
		lim = rate.NewLimiter(limit, burst)
		limiters[keyHash] = lim
	}
	// AllowN takes no token when it refuses, so clients that retry too
	// eagerly are not punished beyond the refusal itself.
	if lim.AllowN(now, 1) {
		return answer{}, false
	}
	a := errorAnswer(s.rateLimitStatus, codeRateLimited, msgRateLimited)
	if s.retryAfterHeader {
		a.retryAfter = retryAfterSeconds(lim, now)
	}
	return a, true
}

// retryAfterSeconds is how long until lim has a whole token again, in
// whole seconds rounded up and at least 1, as Retry-After requires.
func retryAfterSeconds(lim *rate.Limiter, now time.Time) int {
	missing := 1 - lim.TokensAt(now)
	secs := math.Ceil(missing / float64(lim.Limit()))
	if math.IsNaN(secs) || secs < 1 {
		return 1
	}
	if secs > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(secs)
}

// takeFaultLocked returns the fault in faults for videoNo, if any, and
// counts down its Times.
func takeFaultLocked(faults map[string]Fault, videoNo string) (Fault, bool) {
	f, ok := faults[videoNo]
	if !ok {
		return Fault{}, false
	}
	switch {
	case f.Times == 1:
		delete(faults, videoNo)
	case f.Times > 1:
		next := f
		next.Times--
		faults[videoNo] = next
	}
	return f, true
}

// delay waits for the configured latency. It returns false if the answer
// must not be written: the client went away, or Close released the request
// (its connection is then dropped, since an empty 200 would be a lie).
func (s *Server) delay(w http.ResponseWriter, r *http.Request) bool {
	d := time.Duration(s.latency.Load())
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		abort(w)
		return false
	}
}

// abort drops the connection without an answer. Hijacking lets it send a
// TCP reset like a crashing upstream would; where the writer cannot be
// hijacked (HTTP/2, recorders), net/http's ErrAbortHandler panic is the
// supported way to abort a response.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		// Linger 0 makes Close send RST instead of FIN.
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

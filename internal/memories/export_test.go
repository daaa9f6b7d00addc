package memories

// Test-only access for the external tests (package memories_test).

// ParseResponse is parseResponse, for the decoding tests and fuzzers.
var ParseResponse = parseResponse

// ParseResponseFull is parseResponseFull: every answer one step at a time,
// which ParseResponse's one-pass path must agree with.
var ParseResponseFull = parseResponseFull

// ParseListResponse is parseListResponse, for the decoding tests and fuzzers.
var ParseListResponse = parseListResponse

// ParseListResponseFull is parseListResponseFull, which ParseListResponse's
// one-pass path must agree with.
var ParseListResponseFull = parseListResponseFull

// WithMaxBodyBytes caps the get_metadata response body (default 1 MiB);
// non-positive values keep the default.
func WithMaxBodyBytes(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithMaxListBodyBytes caps the list_videos response body (default 16 MiB);
// non-positive values keep the default.
func WithMaxListBodyBytes(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxListBody = n
		}
	}
}

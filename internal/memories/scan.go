package memories

// This file reads the usual answer, HTTP 200 with code 0000, in one pass
// over the body and without reflection: encoding/json took as long to read
// a 400-byte get_metadata answer as the call itself took to make. The
// scanner validates as strictly as encoding/json and hands each field's
// text to the same rules (fields.go); for anything it does not read as
// encoding/json would (a key with escapes, outside ASCII or in another
// case, a repeated key, a list item that is not an object, deep nesting) it
// gives up and the answer is read by encoding/json. FuzzParseResponse and
// FuzzParseListResponse check that both readings agree.

import (
	"bytes"
	"encoding/json"
)

// maxScanDepth bounds the nesting the scanner follows; deeper answers are
// left to encoding/json.
const maxScanDepth = 32

// scanner walks one JSON text. Every method reports false for text that is
// not JSON or not in the subset it reads.
type scanner struct {
	b     []byte
	i     int
	depth int
}

// ws skips white space.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, 0 at the end (a NUL
// byte is JSON nowhere, so every caller refuses it as it does the end).
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// atEnd skips white space and reports whether the text ends there.
func (s *scanner) atEnd() bool {
	s.ws()
	return s.i == len(s.b)
}

// value reads one value and returns its text, as encoding/json hands it to
// an UnmarshalJSON method.
func (s *scanner) value() ([]byte, bool) {
	c := s.peek()
	start := s.i
	ok := false
	switch {
	case c == '"':
		_, _, ok = s.str()
	case c == '{':
		ok = s.object(func([]byte) bool { _, ok := s.value(); return ok })
	case c == '[':
		ok = s.array(func() bool { _, ok := s.value(); return ok })
	case c == 't':
		ok = s.literal("true")
	case c == 'f':
		ok = s.literal("false")
	case c == 'n':
		ok = s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		ok = s.number()
	}
	return s.b[start:s.i], ok
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// str reads a string at its opening quote and returns its bytes between
// the quotes; plain is false when they hold an escape.
func (s *scanner) str() (inner []byte, plain, ok bool) {
	s.i++
	start := s.i
	plain = true
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			inner = s.b[start:s.i]
			s.i++
			return inner, plain, true
		case c == '\\':
			plain = false
			if s.i+1 >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if len(s.b)-s.i < 6 {
					return nil, false, false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return nil, false, false
					}
				}
				s.i += 6
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default:
			s.i++ // invalid UTF-8 is JSON to encoding/json too (and unquote repairs it)
		}
	}
	return nil, false, false
}

// number reads a number by JSON's grammar.
func (s *scanner) number() bool {
	b, i := s.b, s.i
	digits := func() bool {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.i = i
	return true
}

// object reads an object at its opening brace, calling member for each
// member with the scanner at its value, which member reads. member gets
// nil for a key that encoding/json might match against a field name other
// than byte for byte: one with an escape or a byte outside ASCII.
func (s *scanner) object(member func(key []byte) bool) bool {
	more, ok := s.enter('}')
	for more && ok {
		if s.peek() != '"' {
			return false
		}
		key, plain, read := s.str()
		if !read || s.peek() != ':' {
			return false
		}
		s.i++
		if !plain || !ascii(key) {
			key = nil
		}
		if !member(key) {
			return false
		}
		more, ok = s.next('}')
	}
	return ok
}

// array reads an array at its opening bracket, calling elem with the
// scanner at each element, which elem reads.
func (s *scanner) array(elem func() bool) bool {
	more, ok := s.enter(']')
	for more && ok {
		if !elem() {
			return false
		}
		more, ok = s.next(']')
	}
	return ok
}

// enter steps into an object or array at its opening byte; more is false
// when it is empty (closing read) or nested too deep (ok false).
func (s *scanner) enter(closing byte) (more, ok bool) {
	if s.depth++; s.depth > maxScanDepth {
		return false, false
	}
	s.i++
	if s.peek() == closing {
		s.i++
		s.depth--
		return false, true
	}
	return true, true
}

// next reads what follows a member or element: a comma (more to come) or
// the closing byte.
func (s *scanner) next(closing byte) (more, ok bool) {
	switch s.peek() {
	case ',':
		s.i++
		return true, true
	case closing:
		s.i++
		s.depth--
		return false, true
	}
	return false, false
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// keyIndex returns the index of key among names, -1 for none, and ok
// false for a key that encoding/json would match differently: nil (see
// object), or one of names in another case, which it matches too.
func keyIndex(key []byte, names []string) (i int, ok bool) {
	if key == nil {
		return -1, false
	}
	for i, n := range names {
		if string(key) == n {
			return i, true
		}
	}
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return -1, false
		}
	}
	return -1, true
}

// members reads an object whose members of names are each read at most
// once by known(index); other members are read and dropped. It gives up on
// a repeated member of names, whose reading by encoding/json (merged, or
// replaced) is left to it.
func (s *scanner) members(names []string, known func(i int) bool) bool {
	var seen uint64
	return s.object(func(key []byte) bool {
		i, ok := keyIndex(key, names)
		switch {
		case !ok:
			return false
		case i < 0:
			_, ok := s.value()
			return ok
		case seen&(1<<i) != 0:
			return false
		}
		seen |= 1 << i
		return known(i)
	})
}

// envelopeKeys are the envelope's members scanUsual reads.
var envelopeKeys = []string{"code", "msg", "data"}

// scanUsual reads body as the usual answer: an object whose code is 0000,
// with data read by data when it is an object. hasData is false for null
// or absent data; ok is false for any other answer, or one the scanner
// leaves to encoding/json.
func scanUsual(statusCode int, body []byte, data func(*scanner) bool) (hasData, ok bool) {
	if statusCode != 200 || len(body) == 0 || body[0] != '{' {
		return false, false
	}
	s := &scanner{b: body}
	usual := false
	if !s.members(envelopeKeys, func(i int) bool {
		switch i {
		case 0:
			raw, ok := s.value()
			code, err := normalizeCode(raw)
			usual = ok && err == nil && code == codeOK
			return ok
		case 1:
			_, ok := s.value()
			return ok
		}
		switch s.peek() {
		case 'n':
			return s.literal("null")
		case '{':
			hasData = true
			return data(s)
		}
		return false // data of another type: encoding/json names the error
	}) {
		return false, false
	}
	if !s.atEnd() || !usual {
		return false, false
	}
	return hasData, true
}

// videoKeys are rawVideo's members, in the order of rawVideo.field.
var videoKeys = []string{"video_no", "video_name", "duration", "size", "status", "cause", "create_time",
	"resolution_label", "fps", "width", "height", "datetime_taken", "camera_model", "latitude", "longitude", "tags"}

// unmarshaler is what every field of rawVideo is.
type unmarshaler interface{ UnmarshalJSON([]byte) error }

// field returns r's field of videoKeys[i].
func (r *rawVideo) field(i int) unmarshaler {
	return [...]unmarshaler{&r.VideoNo, &r.VideoName, &r.Duration, &r.Size, &r.Status, &r.Cause, &r.CreateTime,
		&r.ResolutionLabel, &r.FPS, &r.Width, &r.Height, &r.DatetimeTaken, &r.CameraModel, &r.Latitude, &r.Longitude, &r.Tags}[i]
}

// video reads an object into r, each field by its rule.
func (s *scanner) video(r *rawVideo) bool {
	if s.peek() != '{' {
		return false // an item that is not an object: encoding/json names the error
	}
	return s.members(videoKeys, func(i int) bool {
		raw, ok := s.value()
		if ok {
			_ = r.field(i).UnmarshalJSON(raw) // a refused value is kept as bad, not returned
		}
		return ok
	})
}

// listKeys are rawList's members.
var listKeys = []string{"current_page", "page_size", "total_count", "videos"}

// list reads list_videos' data into l, and its items into videos; it gives
// up on an item that videoFrom refuses, as parseListResponseFull then
// names.
func (s *scanner) list(l *rawList, videos *[]*Video) bool {
	return s.members(listKeys, func(i int) bool {
		if page := [...]*json.RawMessage{&l.CurrentPage, &l.PageSize, &l.TotalCount}; i < len(page) {
			raw, ok := s.value()
			*page[i] = raw
			return ok
		}
		switch s.peek() {
		case 'n':
			return s.literal("null")
		case '[':
			var r rawVideo // one for every item: each is copied out by videoFrom
			return s.array(func() bool {
				r = rawVideo{}
				if !s.video(&r) {
					return false
				}
				v, err := videoFrom(&r)
				*videos = append(*videos, v)
				return err == nil
			})
		}
		return false
	})
}

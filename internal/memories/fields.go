package memories

// This file coerces each video field by its rule while encoding/json
// decodes it.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// field is one field of a video, coerced by its rule while encoding/json
// (or the scanner) decodes it, so that no field's text is copied first to
// be read again. A value the rule refuses is remembered rather than
// returned as an error, so that videoFrom can name the field. An absent
// field is unset, as a null one is. Values are kept, not pointers, so that
// videoFrom places them all in the video's one allocation.
type field[T any] struct {
	v   T
	set bool
	bad bool
}

// take returns the field's value, recording in d a value its rule refused.
func (f *field[T]) take(d *decoder, name string) T {
	if f.bad {
		d.fail(name)
	}
	return f.v
}

// into returns the field's value placed at dst, or nil when it is unset,
// recording in d a value its rule refused.
func (f *field[T]) into(d *decoder, name string, dst *T) *T {
	v := f.take(d, name)
	if !f.set {
		return nil
	}
	*dst = v
	return dst
}

// coerce sets f from raw by rule, one of decoder's methods.
func coerce[T any](f *field[T], raw []byte, rule func(*decoder, string, json.RawMessage) (T, bool)) error {
	var d decoder
	f.v, f.set = rule(&d, "", raw)
	f.bad = d.err != nil
	return nil
}

// The field kinds, one per rule of decoder.
type (
	strField    struct{ field[string] }
	int64Field  struct{ field[int64] }
	intField    struct{ field[int] }
	millisField struct{ field[time.Time] }
	floatField  struct{ field[float64] }
	tagsField   struct{ field[[]string] }
)

func (f *strField) UnmarshalJSON(b []byte) error    { return coerce(&f.field, b, (*decoder).str) }
func (f *int64Field) UnmarshalJSON(b []byte) error  { return coerce(&f.field, b, (*decoder).int64) }
func (f *intField) UnmarshalJSON(b []byte) error    { return coerce(&f.field, b, (*decoder).integer) }
func (f *millisField) UnmarshalJSON(b []byte) error { return coerce(&f.field, b, (*decoder).millis) }
func (f *floatField) UnmarshalJSON(b []byte) error  { return coerce(&f.field, b, (*decoder).float) }
func (f *tagsField) UnmarshalJSON(b []byte) error {
	return coerce(&f.field, b, func(d *decoder, name string, raw json.RawMessage) ([]string, bool) {
		tags := d.tags(name, raw)
		return tags, tags != nil
	})
}

// decoder coerces raw fields and keeps the first failure, so decodeVideo
// reads as a list of fields rather than a ladder of error checks.
type decoder struct{ err error }

func (d *decoder) fail(name string) {
	if d.err == nil {
		d.err = fmt.Errorf("malformed field %s", name)
	}
}

// str accepts a string, or a number or boolean (kept as its JSON text);
// ok is false for null.
func (d *decoder) str(name string, raw json.RawMessage) (v string, ok bool) {
	switch kindOf(raw) {
	case 0, 'n':
		return "", false
	case '"':
		s, err := unquote(raw)
		if err != nil {
			d.fail(name)
			return "", false
		}
		return s, true
	case '0', 't', 'f':
		return string(bytes.TrimSpace(raw)), true
	default:
		d.fail(name)
		return "", false
	}
}

// numberText returns the text of a JSON number or numeric string; ok is
// false for null, "", and "null".
func (d *decoder) numberText(name string, raw json.RawMessage) (text string, ok bool) {
	switch kindOf(raw) {
	case 0, 'n':
		return "", false
	case '0':
		return string(bytes.TrimSpace(raw)), true
	case '"':
		s, err := unquote(raw)
		if err != nil {
			d.fail(name)
			return "", false
		}
		s = strings.TrimSpace(s)
		if s == "" || strings.EqualFold(s, "null") {
			return "", false
		}
		return s, true
	default:
		d.fail(name)
		return "", false
	}
}

func (d *decoder) int64(name string, raw json.RawMessage) (int64, bool) {
	if n, ok := plainInteger(raw); ok {
		return n, true
	}
	text, ok := d.numberText(name, raw)
	if !ok {
		return 0, false
	}
	n, ok := parseInteger(text)
	if !ok {
		d.fail(name)
		return 0, false
	}
	return n, true
}

func (d *decoder) integer(name string, raw json.RawMessage) (int, bool) {
	n, ok := d.int64(name, raw)
	if !ok {
		return 0, false
	}
	if n < math.MinInt || n > math.MaxInt { // only reachable where int is 32 bits
		d.fail(name)
		return 0, false
	}
	return int(n), true
}

func (d *decoder) millis(name string, raw json.RawMessage) (time.Time, bool) {
	n, ok := d.int64(name, raw)
	if !ok {
		return time.Time{}, false
	}
	return time.UnixMilli(n).UTC(), true
}

func (d *decoder) float(name string, raw json.RawMessage) (float64, bool) {
	text, ok := d.numberText(name, raw)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail(name)
		return 0, false
	}
	return f, true
}

// tags accepts an array; strings are kept, nulls skipped (a null tag is no
// tag), and other elements kept as their compact JSON text.
func (d *decoder) tags(name string, raw json.RawMessage) []string {
	switch kindOf(raw) {
	case 0, 'n':
		return nil
	case '[':
	default:
		d.fail(name)
		return nil
	}
	elems, err := elements(raw)
	if err != nil {
		d.fail(name)
		return nil
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		switch kindOf(e) {
		case 0, 'n':
			continue
		case '"':
			s, err := unquote(e)
			if err != nil {
				d.fail(name)
				return nil
			}
			out = append(out, s)
		default:
			var b bytes.Buffer
			if err := json.Compact(&b, e); err != nil {
				d.fail(name)
				return nil
			}
			out = append(out, b.String())
		}
	}
	return out
}

// elements returns the elements of the array raw. Every raw a rule sees
// was read by encoding/json or the scanner, so the scanner reads it again
// (without the copy and reflection of encoding/json), unless it is nested
// deeper than the scanner goes. It reads the array twice, counting the
// elements and then keeping them, so that their slice is allocated once,
// not grown from one element (three allocations for a video's three tags).
func elements(raw json.RawMessage) ([]json.RawMessage, error) {
	n := 0
	if eachElement(raw, func(json.RawMessage) { n++ }) {
		elems := make([]json.RawMessage, 0, n)
		eachElement(raw, func(e json.RawMessage) { elems = append(elems, e) })
		return elems, nil
	}
	var elems []json.RawMessage
	err := json.Unmarshal(raw, &elems)
	return elems, err
}

// eachElement calls f with each element of the JSON array raw, and reports
// whether the scanner read raw whole as one array.
func eachElement(raw json.RawMessage, f func(json.RawMessage)) bool {
	s := &scanner{b: raw}
	return s.peek() == '[' && s.array(func() bool {
		e, ok := s.value()
		if ok {
			f(e)
		}
		return ok
	}) && s.atEnd()
}

// kindOf reports the JSON type of raw by its first byte: 0 when absent, 'n'
// null, '"' string, '0' number, 't'/'f' boolean, '{' object, '[' array.
func kindOf(raw json.RawMessage) byte {
	for _, c := range raw {
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c == '-' || (c >= '0' && c <= '9'):
			return '0'
		default:
			return c
		}
	}
	return 0
}

// unquote decodes a JSON string. raw was already validated by the decoder
// that produced it, so a string without escapes is just its inner bytes; the
// slow path handles escapes and repairs invalid UTF-8 as encoding/json does.
func unquote(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 && utf8.Valid(inner) {
			return string(inner), nil
		}
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func isNull(raw json.RawMessage) bool {
	k := kindOf(raw)
	return k == 0 || k == 'n'
}

// plainInteger reads the usual number, a JSON integer of at most 18
// digits, without the text parseInteger needs; ok is false for any other.
func plainInteger(raw []byte) (int64, bool) {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(digits) < len(raw) {
		n = -n
	}
	return n, true
}

// parseInteger parses a decimal integer exactly, also accepting whole values
// written with a fraction or exponent ("12.0", "1.2e3"), as JSON encoders
// sometimes emit them. It never goes through float64, so every int64 stays
// exact, and it bounds the work done for huge exponents.
func parseInteger(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return 0, false
		}
		exp = e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := intPart + frac
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, true // zero, whatever the exponent
	}
	const maxExp = 1 << 20 // far beyond any int64; keeps point arithmetic safe
	if exp > maxExp || exp < -maxExp {
		return 0, false
	}
	// point is where the decimal point falls within digits.
	point := len(intPart) - (len(intPart+frac) - len(digits)) + exp
	if point <= 0 || point > 19 {
		return 0, false // a nonzero fraction below 1, or beyond int64
	}
	whole, rest := digits, ""
	if point < len(digits) {
		whole, rest = digits[:point], digits[point:]
	} else {
		whole += strings.Repeat("0", point-len(digits))
	}
	if strings.Trim(rest, "0") != "" {
		return 0, false
	}
	u, err := strconv.ParseUint(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true // -u wraps to the right value, including MinInt64
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	}
	return 0, false
}

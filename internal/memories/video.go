package memories

import (
	"slices"
	"strings"
	"time"
)

// Status is the normalized processing status of a video.
//
// The upstream documents PARSE, UNPARSE and FAILED; the client trims and
// upper-cases what it receives and also maps FAIL, PARSE_ERROR and ERROR to
// StatusFailed. Any other value, including an empty or missing status, is
// read as StatusUnparse: that is the conservative "not ready yet" reading,
// because it promises nothing about the data (which may still change) and
// does not claim a failure the upstream never reported. The string as sent
// is always kept in Video.RawStatus.
type Status string

// The normalized statuses.
const (
	// StatusParse means the video has been parsed and its metadata is final.
	StatusParse Status = "PARSE"
	// StatusUnparse means the video is not parsed yet (or its status is unknown).
	StatusUnparse Status = "UNPARSE"
	// StatusFailed means the upstream failed to parse the video; see Video.Cause.
	StatusFailed Status = "FAILED"
)

// VideoRef names one video of an account: the scope it was uploaded under
// (the upload's unique_id) and its number.
type VideoRef struct {
	UniqueID string // "" is sent as "default", the upstream's own default
	VideoNo  string
}

// DefaultUniqueID is the upload scope the upstream assumes when a call
// names none.
const DefaultUniqueID = "default"

// EmptyID reports an id (a video number or a unique_id) that is empty or
// only white space, which the upstream refuses.
func EmptyID(id string) bool { return strings.TrimSpace(id) == "" }

// ListRequest asks list_videos for one page of videos of one scope.
type ListRequest struct {
	UniqueID string   // "" is sent as "default"
	VideoNos []string // the videos wanted; must be non-empty, none blank, unless Library
	Page     int      // one-based; 0 means 1
	Size     int      // items per page asked; 0 means len(VideoNos) (with Library, the vendor's default)
	// Library lists the scope's whole library, through Filter, rather than
	// the videos of VideoNos, which must then be empty: a request without
	// video numbers is never sent by accident.
	Library bool
	Filter  ListFilter
}

// ListFilter is list_videos' filters, ANDed; the zero value filters
// nothing. The metadata filters (CameraModel, Tag, TakenAfter, Near) match
// only videos whose processing has finished, the vendor says.
type ListFilter struct {
	Status      Status // "": any
	VideoName   string // exact
	VideoNo     string // exact
	CameraModel string
	Tag         string
	TakenAfter  *time.Time // taken at or after
	Near        *GeoPoint  // within about 20 km
}

// GeoPoint is a point on the globe, in degrees.
type GeoPoint struct {
	Latitude, Longitude float64
}

// ListPage is one page of a list_videos answer.
//
// Videos the upstream does not know (or that are not the account's) are
// simply absent: list_videos has no per-video "not found".
type ListPage struct {
	Videos     []*Video // in the upstream's order, which is not the request's; Detailed false
	Page       int      // current_page (the page asked, when the upstream omits it)
	PageSize   int      // page_size the upstream used; may be smaller than asked
	TotalCount int64    // matches over all pages
}

// Video is one video's metadata as the upstream described it.
//
// Pointer fields are nil when the upstream omitted the field, sent null, an
// empty string or the string "null", or sent the empty value by which it
// means "not known" (see unknownAsNull: a blank name, a zero fps, a zero
// duration of a video not parsed yet, ...).
type Video struct {
	VideoNo         string
	VideoName       *string
	Duration        *int   // seconds
	Size            *int64 // bytes; decoded without going through float64, so exact
	Status          Status // normalized, see Status
	RawStatus       string // the status string exactly as sent
	Cause           *string
	CreateTime      *time.Time // UTC, from epoch milliseconds
	ResolutionLabel *string
	FPS             *int
	Width           *int
	Height          *int
	DatetimeTaken   *time.Time // UTC, from epoch milliseconds
	CameraModel     *string
	Latitude        *float64
	Longitude       *float64
	Tags            []string // nil when absent or null; empty (non-nil) when sent as []
	Detailed        bool     // from get_metadata: ResolutionLabel, FPS, Width and Height are as the upstream knows them; list_videos answers lack those four
}

// Equal reports whether v and o say the same of the same video: every
// field equal, times as instants. Two nils are equal.
func (v *Video) Equal(o *Video) bool {
	if v == o {
		return true
	}
	if v == nil || o == nil {
		return false
	}
	return v.VideoNo == o.VideoNo && same(v.VideoName, o.VideoName) && same(v.Duration, o.Duration) &&
		same(v.Size, o.Size) && v.Status == o.Status && v.RawStatus == o.RawStatus && same(v.Cause, o.Cause) &&
		sameTime(v.CreateTime, o.CreateTime) && same(v.ResolutionLabel, o.ResolutionLabel) && same(v.FPS, o.FPS) &&
		same(v.Width, o.Width) && same(v.Height, o.Height) && sameTime(v.DatetimeTaken, o.DatetimeTaken) &&
		same(v.CameraModel, o.CameraModel) && same(v.Latitude, o.Latitude) && same(v.Longitude, o.Longitude) &&
		(v.Tags == nil) == (o.Tags == nil) && slices.Equal(v.Tags, o.Tags) && v.Detailed == o.Detailed
}

func same[T comparable](a, b *T) bool { return a == b || (a != nil && b != nil && *a == *b) }

func sameTime(a, b *time.Time) bool { return a == b || (a != nil && b != nil && a.Equal(*b)) }

// normalizeStatus maps the upstream's status spellings onto the three
// documented values; see the Status type for why unknown values read as
// StatusUnparse.
func normalizeStatus(raw string) Status {
	switch strings.ToUpper(strings.TrimSpace(raw)) {
	case "PARSE":
		return StatusParse
	case "UNPARSE":
		return StatusUnparse
	case "FAILED", "FAIL", "PARSE_ERROR", "ERROR":
		return StatusFailed
	default:
		return StatusUnparse
	}
}

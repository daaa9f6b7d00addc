package memories

// This file decodes the two calls' usual and full answers into videos and
// pages; classify.go decides what an answer that is not a success means.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// rawVideo holds data's fields, each coerced by its own rule as it is
// decoded (see field).
type rawVideo struct {
	VideoNo         strField    `json:"video_no"`
	VideoName       strField    `json:"video_name"`
	Duration        intField    `json:"duration"`
	Size            int64Field  `json:"size"`
	Status          strField    `json:"status"`
	Cause           strField    `json:"cause"`
	CreateTime      millisField `json:"create_time"`
	ResolutionLabel strField    `json:"resolution_label"`
	FPS             intField    `json:"fps"`
	Width           intField    `json:"width"`
	Height          intField    `json:"height"`
	DatetimeTaken   millisField `json:"datetime_taken"`
	CameraModel     strField    `json:"camera_model"`
	Latitude        floatField  `json:"latitude"`
	Longitude       floatField  `json:"longitude"`
	Tags            tagsField   `json:"tags"`
}

// parseResponse turns one get_metadata HTTP answer into a video or a typed
// error. It returns (nil, nil) when the upstream says the video does not
// exist (code 0000 with null data); a video it returns has Detailed set.
// Every error it returns is an *Error.
//
// Precedence: HTTP 5xx is KindUpstream whatever the body; then code 0429 or
// HTTP 429 is KindRateLimited; HTTP 401 and 403 decide by status; any other
// non-2xx is classified by its envelope's code when one parses (KindUpstream
// otherwise, and for a contradictory 0000); a 2xx is classified by code.
// Content-Type is not consulted: only the body counts.
func parseResponse(statusCode int, header http.Header, body []byte) (*Video, error) {
	if v, ok := parseVideoFast(statusCode, body); ok {
		return v, nil
	}
	return parseResponseFull(statusCode, header, body)
}

// parseVideoFast reads the usual get_metadata answer, HTTP 200 with code
// 0000 and a well-formed video or null data, in one pass (scan.go). ok is
// false for any other answer, which parseResponseFull then reads and, if
// need be, names what is wrong with; both agree wherever ok is true
// (FuzzParseResponse checks it).
func parseVideoFast(statusCode int, body []byte) (v *Video, ok bool) {
	var r rawVideo
	hasData, ok := scanUsual(statusCode, body, func(s *scanner) bool { return s.video(&r) })
	if !ok || !hasData {
		return nil, ok // null or no data: not found
	}
	v, err := videoFrom(&r)
	if err != nil {
		return nil, false
	}
	v.Detailed = true
	return v, true
}

// parseResponseFull is parseResponse for every answer, one step at a time.
func parseResponseFull(statusCode int, header http.Header, body []byte) (*Video, error) {
	a, err := checkAnswer(statusCode, header, body, endpointMetadata)
	if err != nil {
		return nil, err
	}
	if isNull(a.env.data) {
		return nil, nil // not found (or not this account's)
	}
	v, err := decodeVideo(a.env.data)
	if err != nil {
		return nil, a.fail(KindUpstream, err)
	}
	v.Detailed = true
	return v, nil
}

// rawList holds list_videos' data fields undecoded; unknown fields are
// ignored.
type rawList struct {
	CurrentPage json.RawMessage `json:"current_page"`
	PageSize    json.RawMessage `json:"page_size"`
	TotalCount  json.RawMessage `json:"total_count"`
	Videos      json.RawMessage `json:"videos"`
}

// rawListItems is rawList with its items read in the same pass, for the
// answers whose every item is an object.
type rawListItems struct {
	rawList
	Items []rawVideo `json:"videos"`
}

// parseListResponse turns one list_videos HTTP answer into a page or a typed
// error. Every error it returns is an *Error.
//
// The envelope is classified as by parseResponse, with one addition that
// comes first after HTTP 5xx: the answers listed at isUnsupportedAnswer
// (HTTP 404 or 405 whatever the body, or code 0001/0003 whose msg says a
// parameter or the call is unknown) are KindUnsupported.
//
// On code 0000, data null, or videos null or absent, is an empty page. Each
// item is decoded by get_metadata's field rules and has Detailed false;
// numbers may be strings, unknown fields (bucket, blob, video_url, ...) are
// ignored. One malformed item (not an object, no video_no, a field that does
// not decode) fails the whole page as KindUpstream: the caller isolates it
// by splitting its batch. Page is 0 when the upstream omits current_page
// (ListVideos then reports the page asked).
func parseListResponse(statusCode int, header http.Header, body []byte) (*ListPage, error) {
	if page, ok := parseListFast(statusCode, body); ok {
		return page, nil
	}
	return parseListResponseFull(statusCode, header, body)
}

// parseListFast reads the usual list_videos answer (see parseVideoFast)
// with a well-formed page or null data; FuzzParseListResponse checks that it
// agrees with parseListResponseFull wherever ok is true.
func parseListFast(statusCode int, body []byte) (page *ListPage, ok bool) {
	var data rawList
	var videos []*Video
	hasData, ok := scanUsual(statusCode, body, func(s *scanner) bool { return s.list(&data, &videos) })
	if !ok {
		return nil, false
	}
	if !hasData {
		return &ListPage{Videos: []*Video{}}, true
	}
	page, err := pageFrom(&data, len(videos), func(i int) (*Video, error) { return videos[i], nil })
	return page, err == nil
}

// parseListResponseFull is parseListResponse for every answer, one step at
// a time.
func parseListResponseFull(statusCode int, header http.Header, body []byte) (*ListPage, error) {
	a, err := checkAnswer(statusCode, header, body, endpointList)
	if err != nil {
		return nil, err
	}
	if isNull(a.env.data) {
		return &ListPage{Videos: []*Video{}}, nil
	}
	if kindOf(a.env.data) != '{' {
		return nil, a.fail(KindUpstream, errors.New("malformed field data"))
	}
	// The common case takes one pass over data, items included; anything
	// unusual (an item that is not an object, videos not an array) takes
	// the path that reads the page, then each item, and names what failed.
	var fast rawListItems
	if err := json.Unmarshal(a.env.data, &fast); err == nil {
		page, err := pageFrom(&fast.rawList, len(fast.Items), func(i int) (*Video, error) { return videoFrom(&fast.Items[i]) })
		if err != nil {
			return nil, a.fail(KindUpstream, err)
		}
		return page, nil
	}
	var r rawList
	if err := json.Unmarshal(a.env.data, &r); err != nil {
		return nil, a.fail(KindUpstream, fmt.Errorf("malformed field data: %w", err))
	}
	var items []json.RawMessage
	switch kindOf(r.Videos) {
	case 0, 'n':
	case '[':
		if err := json.Unmarshal(r.Videos, &items); err != nil {
			return nil, a.fail(KindUpstream, fmt.Errorf("malformed field videos: %w", err))
		}
	default:
		return nil, a.fail(KindUpstream, errors.New("malformed field videos"))
	}
	page, err := pageFrom(&r, len(items), func(i int) (*Video, error) { return decodeVideo(items[i]) })
	if err != nil {
		return nil, a.fail(KindUpstream, err)
	}
	return page, nil
}

// pageFrom coerces a page's fields, then its n items, each by item.
func pageFrom(r *rawList, n int, item func(i int) (*Video, error)) (*ListPage, error) {
	d := decoder{}
	current, _ := d.integer("current_page", r.CurrentPage)
	size, _ := d.integer("page_size", r.PageSize)
	total, _ := d.int64("total_count", r.TotalCount)
	if d.err == nil && (current < 0 || size < 0 || total < 0) {
		d.err = errors.New("malformed field data: negative current_page, page_size or total_count")
	}
	if d.err != nil {
		return nil, d.err
	}
	page := &ListPage{Videos: make([]*Video, 0, n)}
	for i := range n {
		v, err := item(i)
		if err != nil {
			return nil, fmt.Errorf("malformed item %d of videos: %w", i, err)
		}
		page.Videos = append(page.Videos, v) // Detailed stays false
	}

	page.Page = current
	// A missing (or zero) page_size reads as this page's length, and so
	// does one below it: the size the server used is at least what it sent.
	page.PageSize = n
	if size > n {
		page.PageSize = size
	}
	// A missing total_count reads as this page's length, i.e. "no more
	// pages": the upstream gave no sign of more. A total below what this
	// page holds is raised to it, so TotalCount never contradicts Videos.
	page.TotalCount = int64(n)
	if total > page.TotalCount {
		page.TotalCount = total
	}
	return page, nil
}

// decodeVideo coerces data into a Video. Errors name the field but never
// echo its value.
func decodeVideo(data json.RawMessage) (*Video, error) {
	if kindOf(data) != '{' {
		return nil, errors.New("malformed field data")
	}
	var r rawVideo
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("malformed field data: %w", err)
	}
	return videoFrom(&r)
}

// videoBlock is a video and the values its pointer fields point to, in
// one allocation rather than one for each.
type videoBlock struct {
	Video
	name, cause, label, camera   string
	duration, fps, width, height int
	size                         int64
	created, taken               time.Time
	latitude, longitude          float64
}

// videoFrom checks the fields of one video, naming the first that its rule
// refused.
func videoFrom(r *rawVideo) (*Video, error) {
	d := decoder{}
	b := new(videoBlock)
	v := &b.Video
	v.VideoName = r.VideoName.into(&d, "video_name", &b.name)
	v.Duration = r.Duration.into(&d, "duration", &b.duration)
	v.Size = r.Size.into(&d, "size", &b.size)
	v.Cause = r.Cause.into(&d, "cause", &b.cause)
	v.CreateTime = r.CreateTime.into(&d, "create_time", &b.created)
	v.ResolutionLabel = r.ResolutionLabel.into(&d, "resolution_label", &b.label)
	v.FPS = r.FPS.into(&d, "fps", &b.fps)
	v.Width = r.Width.into(&d, "width", &b.width)
	v.Height = r.Height.into(&d, "height", &b.height)
	v.DatetimeTaken = r.DatetimeTaken.into(&d, "datetime_taken", &b.taken)
	v.CameraModel = r.CameraModel.into(&d, "camera_model", &b.camera)
	v.Latitude = r.Latitude.into(&d, "latitude", &b.latitude)
	v.Longitude = r.Longitude.into(&d, "longitude", &b.longitude)
	v.Tags = r.Tags.take(&d, "tags")
	v.VideoNo = r.VideoNo.take(&d, "video_no")
	v.RawStatus = r.Status.take(&d, "status")
	v.Status = normalizeStatus(v.RawStatus)
	// "null" is how some upstream paths serialize a missing cause.
	if v.Cause != nil && (strings.TrimSpace(*v.Cause) == "" || strings.EqualFold(strings.TrimSpace(*v.Cause), "null")) {
		v.Cause = nil
	}
	if d.err != nil {
		return nil, d.err
	}
	if EmptyID(v.VideoNo) {
		return nil, errors.New("missing field video_no")
	}
	unknownAsNull(v)
	return v, nil
}

// unknownAsNull drops the values by which the vendor says "not known": it
// sends an empty string or a zero rather than leaving a field out (a video
// that failed to parse answers resolution_label "" and fps, width, height
// and duration 0). The rule, field by field:
//   - video_name, resolution_label, camera_model: blank is unknown;
//   - fps, width, height, size: zero or less is unknown, whatever the
//     status: no video file has zero frames per second, pixels or bytes;
//   - duration: zero is unknown unless the video is parsed (PARSE), whose
//     duration is final, and zero for a clip under a second (the vendor
//     counts whole seconds); below zero is always unknown;
//   - create_time, datetime_taken: the epoch (0 ms) is unknown;
//   - latitude and longitude both 0 (the "null island" a device writes
//     without a fix) are unknown; one of them 0 is a real place.
func unknownAsNull(v *Video) {
	for _, s := range []**string{&v.VideoName, &v.ResolutionLabel, &v.CameraModel} {
		if *s != nil && strings.TrimSpace(**s) == "" {
			*s = nil
		}
	}
	for _, n := range []**int{&v.FPS, &v.Width, &v.Height} {
		if *n != nil && **n <= 0 {
			*n = nil
		}
	}
	if v.Size != nil && *v.Size <= 0 {
		v.Size = nil
	}
	if v.Duration != nil && (*v.Duration < 0 || *v.Duration == 0 && v.Status != StatusParse) {
		v.Duration = nil
	}
	for _, t := range []**time.Time{&v.CreateTime, &v.DatetimeTaken} {
		if *t != nil && (*t).UnixMilli() == 0 {
			*t = nil
		}
	}
	if v.Latitude != nil && v.Longitude != nil && *v.Latitude == 0 && *v.Longitude == 0 {
		v.Latitude, v.Longitude = nil, nil
	}
}

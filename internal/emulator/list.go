package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memories-facade/memories-graphql/internal/authheader"
)

// ListPath is the path of the emulated list endpoint, relative to the base
// URL.
const ListPath = "/serve/api/v1/list_videos"

// DefaultListPageCap is the largest page ListPath honours unless
// Options.ListPageCap says otherwise. The vendor documents no maximum; this
// one is deliberately below the façade's batch size of 200, so that tests
// cover paging.
const DefaultListPageCap = 100

// Defaults of a list request's body fields.
const (
	defaultListPage = 1
	defaultListSize = 200
)

// maxListBody bounds a list request's body; larger bodies get 0003.
const maxListBody = 1 << 20

// The storage location reported in list items.
const (
	listBucket   = "mavi-resource"
	listURLStart = "https://storage.googleapis.com/" + listBucket + "/"
	listURLQuery = "?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=3600&X-Goog-Signature=emulator"
)

// detailOnlyFields are the get_metadata fields list items lack.
var detailOnlyFields = map[string]bool{"resolution_label": true, "fps": true, "width": true, "height": true}

// numericItemFields are the item fields ListNumbersAsStrings quotes.
var numericItemFields = map[string]bool{
	"duration": true, "size": true, "create_time": true,
	"datetime_taken": true, "latitude": true, "longitude": true,
}

// listRequest is a list call's JSON body. Pointers tell "absent" (or null)
// from a sent zero value.
type listRequest struct {
	Page     *int     `json:"page"`
	Size     *int     `json:"size"`
	UniqueID *string  `json:"unique_id"`
	VideoNos []string `json:"video_nos"`
	VideoNo  string   `json:"video_no"`

	// The filters, ANDed: status and video_name match any video; the
	// metadata filters match only videos whose parsing has finished
	// (PARSE), as the vendor's pages say.
	Status        string   `json:"status"`
	VideoName     string   `json:"video_name"`
	CameraModel   string   `json:"camera_model"`
	Tag           string   `json:"tag"`
	DatetimeTaken *int64   `json:"datetime_taken"` // ms: taken at or after
	Latitude      *float64 `json:"latitude"`       // with Longitude: within nearRadiusKm
	Longitude     *float64 `json:"longitude"`
}

// nearRadiusKm is the radius of the latitude and longitude filter: the
// vendor says "about 20 km".
const nearRadiusKm = 20

// filtered reports whether the request has a filter beyond the video
// numbers.
func (q listRequest) filtered() bool {
	return q.Status != "" || q.VideoName != "" || q.CameraModel != "" || q.Tag != "" ||
		q.DatetimeTaken != nil || q.Latitude != nil || q.Longitude != nil
}

// matches reports whether a stored video's data passes the request's
// filters.
func (q listRequest) matches(data json.RawMessage) bool {
	if !q.filtered() {
		return true
	}
	// Read as leniently as the samples are spelled: numbers may be
	// strings, and a field that does not read is absent.
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return false
	}
	str := func(k string) string {
		var v string
		_ = json.Unmarshal(raw[k], &v)
		return v
	}
	num := func(k string) *float64 {
		b := bytes.Trim(raw[k], `"`)
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return nil
		}
		return &f
	}
	var v struct {
		Status, VideoName, CameraModel string
		Tags                           []string
		DatetimeTaken                  *float64
		Latitude, Longitude            *float64
	}
	v.Status, v.VideoName, v.CameraModel = str("status"), str("video_name"), str("camera_model")
	_ = json.Unmarshal(raw["tags"], &v.Tags)
	v.DatetimeTaken, v.Latitude, v.Longitude = num("datetime_taken"), num("latitude"), num("longitude")
	switch {
	case q.Status != "" && v.Status != q.Status,
		q.VideoName != "" && v.VideoName != q.VideoName:
		return false
	}
	metadata := q.CameraModel != "" || q.Tag != "" || q.DatetimeTaken != nil || q.Latitude != nil || q.Longitude != nil
	if !metadata {
		return true
	}
	switch {
	case v.Status != "PARSE",
		q.CameraModel != "" && v.CameraModel != q.CameraModel,
		q.Tag != "" && !slices.Contains(v.Tags, q.Tag),
		q.DatetimeTaken != nil && (v.DatetimeTaken == nil || *v.DatetimeTaken < float64(*q.DatetimeTaken)):
		return false
	}
	if q.Latitude != nil || q.Longitude != nil {
		if q.Latitude == nil || q.Longitude == nil || v.Latitude == nil || v.Longitude == nil {
			return false
		}
		return distanceKm(*q.Latitude, *q.Longitude, *v.Latitude, *v.Longitude) <= nearRadiusKm
	}
	return true
}

// distanceKm is the great-circle distance between two points, in km.
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const earthKm = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

// named returns the video numbers the request names, in request order:
// video_nos, then video_no.
func (q listRequest) named() []string {
	named := slices.Clone(q.VideoNos)
	if q.VideoNo != "" {
		named = append(named, q.VideoNo)
	}
	return named
}

// readListRequest reads and decodes a list call's body. An empty body
// means every parameter takes its default.
func readListRequest(r *http.Request) (listRequest, error) {
	var q listRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxListBody+1))
	if err != nil {
		return q, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxListBody {
		return q, fmt.Errorf("body larger than %d bytes", maxListBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return q, nil
	}
	if err := json.Unmarshal(body, &q); err != nil {
		return listRequest{}, err
	}
	return q, nil
}

// serveList is the emulated list endpoint; like serveMetadata it decides
// the answer at arrival and writes it after the configured latency.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request) {
	key := authheader.Credential(r.Header.Get("Authorization"))
	q, bodyErr := readListRequest(r)
	a := s.decideList(r.Method, key, q, bodyErr)

	s.logger.LogAttrs(r.Context(), slog.LevelDebug, "list_videos",
		slog.String("method", r.Method),
		slog.Int("video_nos", len(q.VideoNos)),
		slog.String("video_no", q.VideoNo),
		slog.String("key", shortHash(key)),
		slog.String("outcome", a.outcome),
		slog.Int("status", a.status),
	)
	s.respond(w, r, a)
}

// decideList applies the list endpoint's checks in the vendor's order
// (disabled, method, auth, rate limit, parameters, then faults and
// lookup), updates the counters and returns the answer to send.
func (s *Server) decideList(method, key string, q listRequest, bodyErr error) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()

	e := s.list
	keyHash := ""
	if key != "" {
		keyHash = KeyHash(key)
	}
	var named []string // an undecodable body names no video
	if bodyErr == nil {
		named = q.named()
	}
	e.stats.videosAsked += int64(len(named))
	e.arriveLocked(keyHash, named...)

	if a, refused := s.gateLocked(e, method, key, keyHash, now); refused {
		return a
	}

	page, size, uniqueID := defaultListPage, defaultListSize, defaultUniqueID
	if q.Page != nil {
		page = *q.Page
	}
	if q.Size != nil {
		size = *q.Size
	}
	if q.UniqueID != nil {
		uniqueID = *q.UniqueID
	}
	var invalid string
	switch {
	case bodyErr != nil:
		invalid = "invalid request body: " + bodyErr.Error()
	case page <= 0:
		invalid = "page must be greater than 0"
	case size <= 0:
		invalid = "size must be greater than 0"
	case strings.TrimSpace(uniqueID) == "":
		invalid = "unique_id must not be empty"
	}
	if invalid != "" {
		e.stats.invalid++
		return errorAnswer(http.StatusOK, codeParam, invalid)
	}

	matches := s.listMatchesLocked(keyHash, uniqueID, q)
	pageSize := min(size, s.listPageCap)
	normal := s.listAnswer(matches, page, pageSize)

	faultable := named
	if len(faultable) == 0 {
		// A library listing names no video: its faults are those of the
		// videos on the page it answers.
		faultable = pageVideoNos(matches, page, pageSize)
	}
	for _, no := range faultable {
		f, ok := e.takeFaultLocked(no)
		if !ok {
			continue
		}
		a := faultAnswer(f, s.malformedListBody(no, page, pageSize, len(matches)), normal)
		a.outcome = "fault_" + f.Kind.String()
		return a
	}
	e.stats.servedLocked(now)
	return normal
}

// listMatch is a video a list call matched.
type listMatch struct {
	videoNo string
	data    json.RawMessage
	order   [sha256.Size]byte
}

// listMatchesLocked returns the videos visible to the key in uniqueID that
// the request selects, in the endpoint's order: by a hash of unique_id and
// video_no, which is stable across calls and unrelated to the request's
// order.
func (s *Server) listMatchesLocked(keyHash, uniqueID string, q listRequest) []listMatch {
	var candidates []string
	ordered := false // candidates are distinct and in the endpoint's order already
	switch {
	case len(q.VideoNos) > 0:
		for _, no := range q.VideoNos {
			if q.VideoNo == "" || no == q.VideoNo {
				candidates = append(candidates, no)
			}
		}
	case q.VideoNo != "":
		candidates = []string{q.VideoNo}
	default:
		candidates, ordered = s.libraryOrderLocked(keyHash, uniqueID), true
	}

	matches := make([]listMatch, 0, len(candidates))
	var seen map[string]bool
	if !ordered {
		seen = map[string]bool{}
	}
	for _, no := range candidates {
		if !ordered {
			if seen[no] {
				continue
			}
			seen[no] = true
		}
		if data, ok := s.videoLocked(keyHash, videoRef{uniqueID: uniqueID, videoNo: no}); ok && q.matches(data) {
			m := listMatch{videoNo: no, data: data}
			if !ordered {
				m.order = listOrder(uniqueID, no)
			}
			matches = append(matches, m)
		}
	}
	if !ordered {
		sortListMatches(matches)
	}
	return matches
}

// listOrder is where a video stands in the endpoint's order.
func listOrder(uniqueID, videoNo string) [sha256.Size]byte {
	return sha256.Sum256([]byte(uniqueID + "\x00" + videoNo))
}

func sortListMatches(matches []listMatch) {
	slices.SortFunc(matches, func(a, b listMatch) int {
		if c := bytes.Compare(a.order[:], b.order[:]); c != 0 {
			return c
		}
		return strings.Compare(a.videoNo, b.videoNo)
	})
}

// libraryKey names the library a key sees in one scope.
type libraryKey struct{ keyHash, uniqueID string }

// libraryOrderLocked returns the video numbers the key with keyHash sees
// in uniqueID, distinct, in the endpoint's order. The order is kept until
// a video is stored or deleted: a library of 100,000 videos would
// otherwise be sorted again on every call.
func (s *Server) libraryOrderLocked(keyHash, uniqueID string) []string {
	k := libraryKey{keyHash, uniqueID}
	if nos, ok := s.orders[k]; ok {
		return nos
	}
	var all []listMatch
	seen := map[string]bool{}
	add := func(videos map[videoRef]json.RawMessage) {
		for ref := range videos {
			if ref.uniqueID == uniqueID && !seen[ref.videoNo] {
				seen[ref.videoNo] = true
				all = append(all, listMatch{videoNo: ref.videoNo, order: listOrder(uniqueID, ref.videoNo)})
			}
		}
	}
	add(s.videos)
	add(s.accounts[keyHash])
	sortListMatches(all)
	nos := make([]string, len(all))
	for i, m := range all {
		nos[i] = m.videoNo
	}
	if s.orders == nil || len(s.orders) >= maxOrders {
		s.orders = map[libraryKey][]string{}
	}
	s.orders[k] = nos
	return nos
}

// maxOrders bounds the library orders kept.
const maxOrders = 1024

// pageVideoNos returns the video numbers on page (one-based) of matches,
// pageSize a page.
func pageVideoNos(matches []listMatch, page, pageSize int) []string {
	if pages := (len(matches) + pageSize - 1) / pageSize; page-1 >= pages {
		return nil
	}
	from := (page - 1) * pageSize
	var nos []string
	for _, m := range matches[from:min(from+pageSize, len(matches))] {
		nos = append(nos, m.videoNo)
	}
	return nos
}

// listAnswer renders page (one-based) of matches, pageSize items a page.
func (s *Server) listAnswer(matches []listMatch, page, pageSize int) answer {
	var b bytes.Buffer
	b.WriteString(`{"current_page":`)
	b.WriteString(s.listNumber(strconv.Itoa(page)))
	b.WriteString(`,"page_size":`)
	b.WriteString(s.listNumber(strconv.Itoa(pageSize)))
	b.WriteString(`,"total_count":`)
	b.WriteString(s.listNumber(strconv.Itoa(len(matches))))
	b.WriteString(`,"videos":[`)
	// page-1 < pages avoids overflowing (page-1)*pageSize.
	if pages := (len(matches) + pageSize - 1) / pageSize; page-1 < pages {
		from := (page - 1) * pageSize
		for i, m := range matches[from:min(from+pageSize, len(matches))] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(s.listItem(m))
		}
	}
	b.WriteString("]}")
	a := okAnswer(b.Bytes())
	a.outcome = "listed"
	return a
}

// listNumber spells a JSON number as the list endpoint sends it.
func (s *Server) listNumber(n string) string {
	if s.listNumbersAsStrings {
		return `"` + n + `"`
	}
	return n
}

// objectField is one member of a JSON object, its value kept raw.
type objectField struct {
	key   string
	value json.RawMessage
}

// objectFields decodes a JSON object into its members in order, keeping
// every value byte for byte.
func objectFields(data json.RawMessage) ([]objectField, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var fields []objectField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		fields = append(fields, objectField{key: key, value: value})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return fields, nil
}

// listItem renders a stored video as a list item: its data object without
// the detail-only fields, with bucket, blob and (for PARSE videos)
// video_url added unless the stored object has them, and every other value
// byte for byte as stored (or quoted, for ListNumbersAsStrings).
//
// Items are rendered once per stored data object and kept: the item depends
// on nothing else, and rendering re-reads the whole object.
func (s *Server) listItem(m listMatch) []byte {
	if b, ok := s.listItems.Load(string(m.data)); ok {
		return b.([]byte)
	}
	b := s.renderListItem(m)
	s.listItems.Store(string(m.data), b)
	return b
}

func (s *Server) renderListItem(m listMatch) []byte {
	fields, err := objectFields(m.data)
	if err != nil {
		// Stored data is validated as an object, so this cannot happen.
		return m.data
	}
	var b bytes.Buffer
	has := map[string]bool{}
	parsed := false
	b.WriteByte('{')
	write := func(key string, value []byte) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.Write(jsonString(key))
		b.WriteByte(':')
		b.Write(value)
	}
	for _, f := range fields {
		has[f.key] = true
		if detailOnlyFields[f.key] {
			continue
		}
		if f.key == "status" {
			var status string
			parsed = json.Unmarshal(f.value, &status) == nil && status == "PARSE"
		}
		value := []byte(f.value)
		if s.listNumbersAsStrings && numericItemFields[f.key] && isJSONNumber(value) {
			value = jsonString(string(value))
		}
		write(f.key, value)
	}
	if !has["bucket"] {
		write("bucket", jsonString(listBucket))
	}
	if !has["blob"] {
		write("blob", jsonString(m.videoNo+".mp4"))
	}
	if parsed && !has["video_url"] {
		write("video_url", jsonString(listURLStart+m.videoNo+".mp4"+listURLQuery))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// isJSONNumber reports whether a valid JSON value is a number.
func isJSONNumber(value []byte) bool {
	return len(value) > 0 && (value[0] == '-' || value[0] >= '0' && value[0] <= '9')
}

// malformedListBody is list_videos' FaultMalformed body: it starts exactly
// like a real list envelope, then breaks the syntax inside the item of the
// faulted video.
func (s *Server) malformedListBody(videoNo string, page, pageSize, total int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"code":"0000","msg":"success","data":{"current_page":`)
	b.WriteString(s.listNumber(strconv.Itoa(page)))
	b.WriteString(`,"page_size":`)
	b.WriteString(s.listNumber(strconv.Itoa(pageSize)))
	b.WriteString(`,"total_count":`)
	b.WriteString(s.listNumber(strconv.Itoa(total)))
	b.WriteString(`,"videos":[{"video_no":`)
	b.Write(jsonString(videoNo))
	b.WriteString(`,"duration":,"size":3284512,}]}}`)
	return b.Bytes()
}

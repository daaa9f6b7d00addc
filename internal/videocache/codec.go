package videocache

import (
	"encoding/json"
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

// codecVersion is part of every Redis key: a change to wireVideo that old
// replicas cannot read takes a new version, so that replicas of two versions
// running side by side during a rollout never read each other's entries.
const codecVersion = "v3"

// wireVideo is memories.Video as kept in Redis. Its own field names keep the
// format independent of the Go type's.
//
// v2 added Detailed: a v1 entry read as v2 would pass a list_videos answer
// off as complete, so v1 keys are never read. v3 added Fresh and
// DetailUntil: a v2 replica would serve a v3 entry's list fields after
// their time.
type wireVideo struct {
	Detailed bool `json:"full,omitempty"`
	// Fresh and DetailUntil are localEntry's times in Unix milliseconds,
	// omitted when zero. They are wall-clock times shared by replicas,
	// whose clocks are kept in step by NTP: a skew of a few seconds moves
	// a refresh by as much, against TTLs of minutes.
	Fresh           int64      `json:"fresh,omitempty"`
	DetailUntil     int64      `json:"du,omitempty"`
	VideoNo         string     `json:"no"`
	VideoName       *string    `json:"name,omitempty"`
	Duration        *int       `json:"dur,omitempty"`
	Size            *int64     `json:"size,omitempty"`
	Status          string     `json:"st"`
	RawStatus       string     `json:"raw,omitempty"`
	Cause           *string    `json:"cause,omitempty"`
	CreateTime      *time.Time `json:"ct,omitempty"`
	ResolutionLabel *string    `json:"res,omitempty"`
	FPS             *int       `json:"fps,omitempty"`
	Width           *int       `json:"w,omitempty"`
	Height          *int       `json:"h,omitempty"`
	DatetimeTaken   *time.Time `json:"taken,omitempty"`
	CameraModel     *string    `json:"cam,omitempty"`
	Latitude        *float64   `json:"lat,omitempty"`
	Longitude       *float64   `json:"lon,omitempty"`
	Tags            []string   `json:"tags"` // null and [] differ: no tags vs none sent
}

// completePrefix starts the encoding of every complete answer (Detailed is
// wireVideo's first field, omitted when false), so that a Redis script can
// tell one without decoding it.
const completePrefix = `{"full":true,`

// encode returns the JSON kept for e; "null" is a kept "not found".
func encode(e localEntry) ([]byte, error) {
	v := e.v
	if v == nil {
		return []byte("null"), nil
	}
	return json.Marshal(wireVideo{
		Detailed: v.Detailed, Fresh: unixMilli(e.fresh), DetailUntil: unixMilli(e.detail),
		VideoNo: v.VideoNo, VideoName: v.VideoName, Duration: v.Duration, Size: v.Size,
		Status: string(v.Status), RawStatus: v.RawStatus, Cause: v.Cause, CreateTime: v.CreateTime,
		ResolutionLabel: v.ResolutionLabel, FPS: v.FPS, Width: v.Width, Height: v.Height,
		DatetimeTaken: v.DatetimeTaken, CameraModel: v.CameraModel,
		Latitude: v.Latitude, Longitude: v.Longitude, Tags: v.Tags,
	})
}

// decode reads what encode wrote; the entry's ttl is not part of it.
func decode(b []byte) (localEntry, error) {
	var w *wireVideo
	if err := json.Unmarshal(b, &w); err != nil {
		return localEntry{}, err
	}
	if w == nil {
		return localEntry{}, nil
	}
	return localEntry{fresh: fromUnixMilli(w.Fresh), detail: fromUnixMilli(w.DetailUntil), v: &memories.Video{
		Detailed: w.Detailed, VideoNo: w.VideoNo, VideoName: w.VideoName, Duration: w.Duration, Size: w.Size,
		Status: memories.Status(w.Status), RawStatus: w.RawStatus, Cause: w.Cause, CreateTime: utc(w.CreateTime),
		ResolutionLabel: w.ResolutionLabel, FPS: w.FPS, Width: w.Width, Height: w.Height,
		DatetimeTaken: utc(w.DatetimeTaken), CameraModel: w.CameraModel,
		Latitude: w.Latitude, Longitude: w.Longitude, Tags: w.Tags,
	}}, nil
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromUnixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// utc keeps decoded times in UTC, as the upstream client makes them.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

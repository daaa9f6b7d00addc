package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// defaultUniqueID is the unique_id assumed when a request does not give one.
const defaultUniqueID = "default"

// Video is one stored video.
type Video struct {
	// UniqueID is the scope the video was uploaded under; "" means "default".
	UniqueID string `json:"unique_id"`
	// Data is the upstream's data object, served byte for byte as given.
	// It must be a JSON object with a non-empty string video_no.
	Data json.RawMessage `json:"data"`
	// Then, when set, is served instead of Data once After has passed since
	// the video was first asked for, by either call: a video whose
	// processing ends while clients watch it. Its video_no must be Data's.
	Then  json.RawMessage `json:"then,omitempty"`
	After Duration        `json:"after,omitempty"`
}

// Duration is a time.Duration read from JSON as a string such as "8s".
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// later is a stored video's Then: when it is first asked for, and what it
// becomes.
type later struct {
	data  json.RawMessage
	after time.Duration
	first time.Time // zero until first asked for
}

// VideoNo returns the video_no read from v.Data, or an error if Data is not
// a JSON object with a non-empty string video_no.
func (v Video) VideoNo() (string, error) {
	no, err := videoNoOf(v.Data)
	if err != nil || v.Then == nil {
		return no, err
	}
	if then, err := videoNoOf(v.Then); err != nil || then != no {
		return "", fmt.Errorf("video %s: then must be a video with the same video_no", no)
	}
	return no, nil
}

// videoNoOf reads the video_no of a video's data object.
func videoNoOf(data json.RawMessage) (string, error) {
	v := Video{Data: data}
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

// videoRef identifies a stored video: the upstream scopes video numbers by
// unique_id.
type videoRef struct{ uniqueID, videoNo string }

// SetVideo adds or replaces a video. With key "" the video is served to
// every accepted key; otherwise only to key, taking precedence over a
// shared video with the same (unique_id, video_no). It panics if v.Data is
// not a JSON object with a non-empty string video_no. It is a test hook.
func (s *Server) SetVideo(key string, v Video) {
	if _, err := v.VideoNo(); err != nil {
		panic(fmt.Sprintf("emulator: SetVideo: %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeLocked(key, v)
}

// DeleteVideo removes a video, as a user deleting it from the library
// does: with key "" the video served to every key, otherwise key's own.
// It is a test hook.
func (s *Server) DeleteVideo(key, uniqueID, videoNo string) {
	if uniqueID == "" {
		uniqueID = defaultUniqueID
	}
	ref := videoRef{uniqueID: uniqueID, videoNo: videoNo}
	h := ""
	if key != "" {
		h = KeyHash(key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders = nil
	delete(s.later, storeKey{h, ref})
	if key == "" {
		delete(s.videos, ref)
		return
	}
	delete(s.accounts[h], ref)
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
	s.orders = nil // a library may have changed
	h := ""
	if key != "" {
		h = KeyHash(key)
	}
	delete(s.later, storeKey{h, ref})
	if v.Then != nil {
		s.later[storeKey{h, ref}] = &later{data: append(json.RawMessage(nil), v.Then...), after: time.Duration(v.After)}
	}
	if key == "" {
		s.videos[ref] = data
		return
	}
	if s.accounts[h] == nil {
		s.accounts[h] = map[videoRef]json.RawMessage{}
	}
	s.accounts[h][ref] = data
}

// videoLocked returns the video ref names as the key with keyHash sees it:
// its own video if it has one, else the shared one.
// A video with a Then is served as it is then, once its time has come.
func (s *Server) videoLocked(keyHash string, ref videoRef) (json.RawMessage, bool) {
	k := storeKey{keyHash, ref}
	data, ok := s.accounts[keyHash][ref]
	if !ok {
		k.keyHash = ""
		data, ok = s.videos[ref]
	}
	if l := s.later[k]; ok && l != nil {
		now := time.Now()
		if l.first.IsZero() {
			l.first = now
		}
		if now.Sub(l.first) >= l.after {
			return l.data, true
		}
	}
	return data, ok
}

// storeKey names a stored video: its account's KeyHash ("" when shared)
// and its ref.
type storeKey struct {
	keyHash string
	ref     videoRef
}

package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
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

// videoLocked returns the video ref names as the key with keyHash sees it:
// its own video if it has one, else the shared one.
func (s *Server) videoLocked(keyHash string, ref videoRef) (json.RawMessage, bool) {
	if data, ok := s.accounts[keyHash][ref]; ok {
		return data, true
	}
	data, ok := s.videos[ref]
	return data, ok
}

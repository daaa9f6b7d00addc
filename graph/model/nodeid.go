package model

import (
	"encoding/base64"
	"encoding/binary"
	"errors"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

// A Video's global id is unpadded base64url of a version byte, the length
// of its uniqueId as a uvarint, the uniqueId and the video number: opaque
// to clients, the same wherever it is computed, and decoded without a
// look-up. Nothing of the account is in it.
const videoIDVersion = 'V'

var idEncoding = base64.RawURLEncoding.Strict()

// ErrBadID is the error of an id this service did not issue.
var ErrBadID = errors.New("not an id this service issued")

// VideoID returns the global id of the video ref names.
func VideoID(ref memories.VideoRef) string {
	b := make([]byte, 0, 2+len(ref.UniqueID)+len(ref.VideoNo))
	b = append(b, videoIDVersion)
	b = binary.AppendUvarint(b, uint64(len(ref.UniqueID)))
	b = append(b, ref.UniqueID...)
	b = append(b, ref.VideoNo...)
	return idEncoding.EncodeToString(b)
}

// maxIDLength bounds an id: its uniqueId and video number are bounded too.
const maxIDLength = 1024

// ParseVideoID returns the video a global id names, or ErrBadID.
func ParseVideoID(id string) (memories.VideoRef, error) {
	if len(id) > maxIDLength {
		return memories.VideoRef{}, ErrBadID
	}
	b, err := idEncoding.DecodeString(id)
	if err != nil || len(b) < 2 || b[0] != videoIDVersion {
		return memories.VideoRef{}, ErrBadID
	}
	n, k := binary.Uvarint(b[1:])
	rest := b[1+max(k, 0):]
	if k <= 0 || n >= uint64(len(rest)) {
		return memories.VideoRef{}, ErrBadID // no room left for a video number
	}
	return memories.VideoRef{UniqueID: string(rest[:n]), VideoNo: string(rest[n:])}, nil
}

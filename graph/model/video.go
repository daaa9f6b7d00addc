// Package model holds the GraphQL models: hand-written ones here, generated
// ones in models_gen.go.
package model

import (
	"time"

	"github.com/memories-facade/memories-graphql/internal/memories"
)

// Video is the GraphQL Video type. It is built from an upstream answer by
// graph.newVideo, so the resolvers never see the wire format.
type Video struct {
	VideoNo         string
	UniqueID        string
	VideoName       *string
	Duration        *int
	Size            *int64
	Status          VideoStatus
	RawStatus       *string
	Cause           *string
	CreateTime      *time.Time
	ResolutionLabel *string
	Fps             *int
	Width           *int
	Height          *int
	CaptureMetadata *CaptureMetadata
	// Detailed says ResolutionLabel, Fps, Width and Height are final for
	// this answer: set from get_metadata, or where no call is to be made
	// for them (a watch event). Without it, those fields' resolvers fetch
	// the video's detail.
	Detailed bool
}

// IsEntity marks Video as an Apollo Federation entity.
func (Video) IsEntity() {}

// IsNode marks Video as a Relay Node.
func (Video) IsNode() {}

// GetID is the video's global id (Node.id).
func (v Video) GetID() string {
	return VideoID(memories.VideoRef{UniqueID: v.UniqueID, VideoNo: v.VideoNo})
}

// ID is the video's global id, the field Video.id.
func (v Video) ID() string { return v.GetID() }

package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memories-facade/memories-graphql/graph/model"
	"github.com/memories-facade/memories-graphql/internal/memories"
)

func videoRefs(uniqueID string, videoNos []string) []memories.VideoRef {
	refs := make([]memories.VideoRef, len(videoNos))
	for i, no := range videoNos {
		refs[i] = memories.VideoRef{UniqueID: uniqueID, VideoNo: no}
	}
	return refs
}

// needsDetail reports whether the selection of the field being resolved
// needs, outside @defer, a field that only get_metadata returns, by the
// same walk that planned the request.
func needsDetail(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return false
	}
	var vars map[string]any
	if graphql.HasOperationContext(ctx) {
		vars = graphql.GetOperationContext(ctx).Variables
	}
	detail := false
	walk(fc.Field.Selections, vars, func(f, _ *ast.Field, _ int, deferred bool) {
		// A deferred detail field is fetched on its own (videoDetail).
		detail = detail || (isDetailField(f) && !deferred)
	})
	return detail
}

// errorAtIndex places err at element i of the list being resolved, so that
// the client can tell which video failed.
func errorAtIndex(ctx context.Context, i int, err error) error {
	path := append(ast.Path(nil), graphql.GetPath(ctx)...)
	return &gqlerror.Error{Err: err, Message: err.Error(), Path: append(path, ast.PathIndex(i))}
}

// newVideo turns an upstream answer into the GraphQL model; nil stays nil
// (not found). Its capture metadata is nil when the upstream sent none of
// those fields, and their location nil unless both coordinates are there.
func newVideo(uniqueID string, v *memories.Video) *model.Video {
	if v == nil {
		return nil
	}
	// One allocation for the model and the parts it points to, which live
	// and die with it: a page of 200 videos with capture metadata makes
	// 200 objects, not 600.
	p := &videoParts{}
	p.video = model.Video{
		VideoNo:         v.VideoNo,
		UniqueID:        uniqueID,
		VideoName:       v.VideoName,
		Duration:        v.Duration,
		Size:            v.Size,
		Status:          model.VideoStatus(v.Status),
		Cause:           v.Cause,
		CreateTime:      v.CreateTime,
		ResolutionLabel: v.ResolutionLabel,
		Fps:             v.FPS,
		Width:           v.Width,
		Height:          v.Height,
		Detailed:        v.Detailed,
	}
	if v.RawStatus != "" {
		p.rawStatus = v.RawStatus
		p.video.RawStatus = &p.rawStatus
	}
	if v.DatetimeTaken != nil || v.CameraModel != nil || v.Latitude != nil || v.Longitude != nil || v.Tags != nil {
		p.capture = model.CaptureMetadata{DatetimeTaken: v.DatetimeTaken, CameraModel: v.CameraModel, Tags: v.Tags}
		if p.capture.Tags == nil {
			p.capture.Tags = []string{}
		}
		if v.Latitude != nil && v.Longitude != nil {
			p.location = model.GeoPoint{Latitude: *v.Latitude, Longitude: *v.Longitude}
			p.capture.Location = &p.location
		}
		p.video.CaptureMetadata = &p.capture
	}
	return &p.video
}

// videoParts is a video's model with its capture metadata, their location
// and its raw status, allocated together by newVideo.
type videoParts struct {
	video     model.Video
	capture   model.CaptureMetadata
	location  model.GeoPoint
	rawStatus string
}

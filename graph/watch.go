package graph

import (
	"context"
	"errors"
	"reflect"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/memories-facade/memories-graphql/graph/model"
	"github.com/memories-facade/memories-graphql/internal/account"
	"github.com/memories-facade/memories-graphql/internal/loader"
	"github.com/memories-facade/memories-graphql/internal/memories"
	"github.com/memories-facade/memories-graphql/internal/watch"
)

// Watcher is what watchVideos subscribes through: internal/watch's
// Registry.
type Watcher interface {
	Subscribe(acct account.Account, refs []memories.VideoRef, detail bool) (*watch.Subscription, error)
}

// The codes of watchVideos' own event errors, in extensions.code.
const (
	CodeNotFound     = "NOT_FOUND"
	CodeWatchExpired = "WATCH_EXPIRED"
	CodeShuttingDown = "SHUTTING_DOWN"

	CodeTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"
)

// watchVideos streams each video's state to the subscriber, once first
// known and again when one of the fields the subscriber selected changes,
// until every video has settled.
func (r *Resolver) watchVideos(ctx context.Context, videoNos []string, uniqueID string) (<-chan graphql.Event[*model.Video], error) {
	if r.Watch == nil {
		return nil, errors.New("no watch registry")
	}
	s, ok := loader.StreamFrom(ctx)
	if !ok || s.Account.IsZero() {
		return nil, loader.ErrNoAccount
	}
	sub, err := r.Watch.Subscribe(s.Account, videoRefs(uniqueID, videoNos), needsDetail(ctx))
	switch {
	case errors.Is(err, watch.ErrTooMany):
		return nil, codedError(CodeTooManySubscriptions, "this account has the most subscriptions it may have open (MAX_SUBSCRIPTIONS_PER_ACCOUNT); complete one first")
	case errors.Is(err, watch.ErrClosed):
		return nil, codedError(CodeShuttingDown, "the server is shutting down")
	case err != nil:
		return nil, err
	}
	fields := selectedVideoFields(ctx)
	path := graphql.GetPath(ctx)
	out := make(chan graphql.Event[*model.Video])
	go func() {
		defer close(out)
		defer sub.Close()
		send := func(v *model.Video, e *gqlerror.Error) bool {
			evCtx := ctx
			if e != nil {
				e.Path = path
				evCtx = context.WithValue(ctx, eventErrorKey{}, e)
				// A video to marshal, which EventErrors replaces with null:
				// a nil one would be a null where the schema allows none.
				v = &model.Video{Detailed: true}
			}
			select {
			case out <- graphql.Event[*model.Video]{Context: evCtx, Value: v}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		last := map[memories.VideoRef][]any{}
		for {
			evs, err := sub.Next(ctx)
			switch {
			case errors.Is(err, watch.ErrExpired):
				send(nil, codedError(CodeWatchExpired, "the watch lasted its maximum duration (WATCH_MAX_DURATION) before every video settled; subscribe again to go on"))
				return
			case errors.Is(err, watch.ErrClosed):
				send(nil, codedError(CodeShuttingDown, "the server is shutting down; subscribe again to go on"))
				return
			case err != nil: // every video settled, or the subscriber left
				return
			}
			for _, ev := range evs {
				var ok bool
				switch {
				case ev.Err != nil:
					ok = send(nil, videoEventError(ev.Ref, ev.Err))
				case ev.Video == nil:
					e := codedError(CodeNotFound, "video %s does not exist under uniqueId %q", ev.Ref.VideoNo, ev.Ref.UniqueID)
					e.Extensions["videoNo"], e.Extensions["uniqueId"] = ev.Ref.VideoNo, ev.Ref.UniqueID
					ok = send(nil, e)
				default:
					v := newVideo(uniqueID, ev.Video)
					// The watch fetches detail itself, once a video settles:
					// the fields' resolvers must not fetch it per event.
					v.Detailed = true
					values := fieldValues(v, fields)
					if prev, seen := last[ev.Ref]; seen && reflect.DeepEqual(prev, values) {
						continue // nothing the subscriber selected changed
					}
					last[ev.Ref] = values
					ok = send(v, nil)
				}
				if !ok {
					return
				}
			}
		}
	}()
	return out, nil
}

// eventErrorKey is the event context's key of the error an event carries
// in place of a video (EventErrors answers it).
type eventErrorKey struct{}

// codedError is an event error with its code.
func codedError(code, format string, args ...any) *gqlerror.Error {
	e := gqlerror.Errorf(format, args...)
	e.Extensions = map[string]any{"code": code}
	return e
}

// videoEventError is the event error of a video whose poll failed, with
// the code and extensions a query's error for it would have, and the
// video's number.
func videoEventError(ref memories.VideoRef, err error) *gqlerror.Error {
	code, msg, ext := classify(err)
	e := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code, "videoNo": ref.VideoNo, "uniqueId": ref.UniqueID}}
	for k, v := range ext {
		e.Extensions[k] = v
	}
	return e
}

// EventErrors answers a subscription event that carries an error in place
// of a video (watchVideos puts it in the event's context) with no data and
// that error alone.
type EventErrors struct{}

var (
	_ graphql.HandlerExtension    = EventErrors{}
	_ graphql.ResponseInterceptor = EventErrors{}
)

// ExtensionName implements graphql.HandlerExtension.
func (EventErrors) ExtensionName() string { return "EventErrors" }

// Validate implements graphql.HandlerExtension.
func (EventErrors) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (EventErrors) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if e, ok := ctx.Value(eventErrorKey{}).(*gqlerror.Error); ok && resp != nil {
		resp.Data = []byte("null")
		resp.Errors = gqlerror.List{e}
	}
	return resp
}

// StreamLoader gives each query of a stream (a WebSocket connection, which
// outlives its operations) a loader of its own, with its own deadline, as
// the /query handler does for each request.
type StreamLoader struct{}

var (
	_ graphql.HandlerExtension     = StreamLoader{}
	_ graphql.OperationInterceptor = StreamLoader{}
)

// ExtensionName implements graphql.HandlerExtension.
func (StreamLoader) ExtensionName() string { return "StreamLoader" }

// Validate implements graphql.HandlerExtension.
func (StreamLoader) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor.
func (StreamLoader) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	s, ok := loader.StreamFrom(ctx)
	if _, has := loader.FromContext(ctx); has || !ok || graphql.GetOperationContext(ctx).Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	ctx, end := s.ForOperation(ctx)
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if resp == nil {
			end()
		}
		return resp
	}
}

// selectedVideoFields returns the Video fields the field being resolved
// selects, through fragments, with @skip and @include applied.
func selectedVideoFields(ctx context.Context) []string {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return nil
	}
	var names []string
	for _, f := range graphql.CollectFields(graphql.GetOperationContext(ctx), fc.Field.Selections, []string{"Video"}) {
		names = append(names, f.Name)
	}
	return names
}

// fieldValues returns what v answers for fields, to tell whether an event
// changes anything the subscriber sees.
func fieldValues(v *model.Video, fields []string) []any {
	out := make([]any, len(fields))
	for i, f := range fields {
		switch f {
		case "videoNo":
			out[i] = v.VideoNo
		case "uniqueId":
			out[i] = v.UniqueID
		case "videoName":
			out[i] = v.VideoName
		case "duration":
			out[i] = v.Duration
		case "size":
			out[i] = v.Size
		case "status":
			out[i] = v.Status
		case "rawStatus":
			out[i] = v.RawStatus
		case "cause":
			out[i] = v.Cause
		case "createTime":
			out[i] = v.CreateTime
		case "resolutionLabel":
			out[i] = v.ResolutionLabel
		case "fps":
			out[i] = v.Fps
		case "width":
			out[i] = v.Width
		case "height":
			out[i] = v.Height
		case "captureMetadata":
			out[i] = v.CaptureMetadata
		}
	}
	return out
}

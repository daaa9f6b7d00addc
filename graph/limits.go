package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// VideoLimit checks, before anything executes, the video references of an
// operation: none may be empty and there may be at most Max of them (each
// video field, each element of a videos list and each Video representation
// of _entities counts; aliases add up).
// Checking here rather than in the resolvers means a refused operation makes
// no upstream call at all, since gqlgen runs root fields concurrently.
type VideoLimit struct {
	Max int
}

var (
	_ graphql.HandlerExtension        = VideoLimit{}
	_ graphql.OperationContextMutator = VideoLimit{}
)

// ExtensionName implements graphql.HandlerExtension.
func (VideoLimit) ExtensionName() string { return "VideoLimit" }

// Validate implements graphql.HandlerExtension.
func (l VideoLimit) Validate(graphql.ExecutableSchema) error {
	if l.Max < 1 {
		return fmt.Errorf("video limit must be at least 1, got %d", l.Max)
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (l VideoLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil
	}
	c := videoCounter{vars: oc.Variables, seen: map[string]bool{}}
	if err := c.walk(oc.Operation.SelectionSet); err != nil {
		return err
	}
	if c.n > l.Max {
		return inputError(nil, "this operation asks for %d videos; at most %d are allowed per operation (MAX_VIDEOS_PER_QUERY)", c.n, l.Max)
	}
	return nil
}

type videoCounter struct {
	vars map[string]any
	seen map[string]bool // fragments already walked, against cycles
	n    int
}

func (c *videoCounter) walk(set ast.SelectionSet) *gqlerror.Error {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if err := c.field(sel); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := c.walk(sel.SelectionSet); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if sel.Definition == nil || c.seen[sel.Name] {
				continue
			}
			c.seen[sel.Name] = true
			if err := c.walk(sel.Definition.SelectionSet); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *videoCounter) field(f *ast.Field) *gqlerror.Error {
	if f.Definition == nil || f.ObjectDefinition == nil || f.ObjectDefinition.Name != "Query" {
		return nil
	}
	switch f.Name {
	case "video", "videos":
	case "_entities":
		// Each Video representation is a video reference; the entity
		// resolver checks them one by one.
		reps, _ := f.ArgumentMap(c.vars)["representations"].([]any)
		for _, rep := range reps {
			if m, ok := rep.(map[string]any); ok && m["__typename"] == "Video" {
				c.n++
			}
		}
		return nil
	default:
		return nil
	}
	args := f.ArgumentMap(c.vars)
	if u, _ := args["uniqueId"].(string); blank(u) {
		return inputError([]any{f.Alias}, "uniqueId must not be empty")
	}
	if f.Name == "video" {
		if blank(idString(args["videoNo"])) {
			return inputError([]any{f.Alias}, "videoNo must not be empty")
		}
		c.n++
		return nil
	}
	nos, _ := args["videoNos"].([]any)
	for i, no := range nos {
		if blank(idString(no)) {
			return inputError([]any{f.Alias}, "videoNos[%d] must not be empty", i)
		}
	}
	c.n += len(nos)
	return nil
}

// idString reads an ID argument, which GraphQL also accepts as an integer.
func idString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// DepthLimit refuses operations nested deeper than Max fields, before
// anything executes. Introspection counts too (__Type.fields → __Field.type
// recurses), except ofType: its nesting is bounded by the schema's type
// wrappers, and GraphiQL's docs query nests it eight deep. Without ofType
// that query is 6 deep.
type DepthLimit struct {
	Max int
}

var (
	_ graphql.HandlerExtension        = DepthLimit{}
	_ graphql.OperationContextMutator = DepthLimit{}
)

// CodeDepthLimit is the extensions.code of an operation refused for depth.
const CodeDepthLimit = "DEPTH_LIMIT_EXCEEDED"

// ExtensionName implements graphql.HandlerExtension.
func (DepthLimit) ExtensionName() string { return "DepthLimit" }

// Validate implements graphql.HandlerExtension.
func (l DepthLimit) Validate(graphql.ExecutableSchema) error {
	if l.Max < 1 {
		return fmt.Errorf("depth limit must be at least 1, got %d", l.Max)
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (l DepthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if d := depth(oc.Operation.SelectionSet, map[string]bool{}); d > l.Max {
		e := gqlerror.Errorf("this operation is nested %d levels deep; at most %d are allowed (MAX_QUERY_DEPTH)", d, l.Max)
		e.Extensions = map[string]any{"code": CodeDepthLimit}
		return e
	}
	return nil
}

// depth is the number of nested fields of set; visiting guards against
// fragment cycles (which validation rejects anyway).
func depth(set ast.SelectionSet, visiting map[string]bool) int {
	deepest := 0
	for _, sel := range set {
		d := 0
		switch sel := sel.(type) {
		case *ast.Field:
			d = depth(sel.SelectionSet, visiting)
			if sel.Name != "ofType" {
				d++
			}
		case *ast.InlineFragment:
			d = depth(sel.SelectionSet, visiting)
		case *ast.FragmentSpread:
			if sel.Definition == nil || visiting[sel.Name] {
				continue
			}
			visiting[sel.Name] = true
			d = depth(sel.Definition.SelectionSet, visiting)
			delete(visiting, sel.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// NoIntrospection refuses operations that ask for __schema or __type, for
// servers with INTROSPECTION=false. (__typename stays allowed: clients and
// gateways use it to tell types apart.) gqlgen alone would answer such a
// field with an uncoded error.
type NoIntrospection struct{}

var (
	_ graphql.HandlerExtension        = NoIntrospection{}
	_ graphql.OperationContextMutator = NoIntrospection{}
)

// ExtensionName implements graphql.HandlerExtension.
func (NoIntrospection) ExtensionName() string { return "NoIntrospection" }

// Validate implements graphql.HandlerExtension.
func (NoIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (NoIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || !introspects(oc.Operation.SelectionSet, map[string]bool{}) {
		return nil
	}
	e := gqlerror.Errorf("introspection is disabled on this server (INTROSPECTION=false)")
	e.Extensions = map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}
	return e
}

// introspects reports a __schema or __type field at the root of set.
func introspects(set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == "__schema" || sel.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if introspects(sel.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if sel.Definition != nil && !seen[sel.Name] {
				seen[sel.Name] = true
				if introspects(sel.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}

package graph

import (
	"slices"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// maxValidationErrors is how many errors one document's validation reports
// before it stops, as graphql-js does: past it, the client learns nothing
// more from a longer list, and each further error costs the server.
const maxValidationErrors = 100

// validation is one document's validation: the errors so far.
type validation struct {
	errs gqlerror.List
}

// abortedValidation is the panic that ends a validation early, with the
// errors to answer; admission recovers it where the executor was called.
// gqlparser's walker has no way to stop, and its rules compute suggestions
// for every unknown name before reporting it.
type abortedValidation struct {
	errs gqlerror.List
}

// abort ends the validation with what it found and last.
func (v *validation) abort(last *gqlerror.Error) {
	errs := slices.Clone(v.errs)
	for _, e := range errs {
		errcode.Set(e, errcode.ValidationFailed)
	}
	panic(abortedValidation{errs: append(errs, last)})
}

// validationRules returns a fresh set of gqlparser's default rules for one
// validation, with overlapRule in place of gqlparser's
// OverlappingFieldsCanBeMerged, and validation stopped once the rules have
// reported maxValidationErrors errors.
func validationRules() *rules.Rules {
	v := &validation{}
	inner := rules.NewDefaultRules().GetInner()
	names := make([]string, 0, len(inner))
	for name := range inner {
		names = append(names, name)
	}
	slices.Sort(names)
	out := rules.NewRules()
	for _, name := range names {
		fn := inner[name]
		if name == overlapRuleName {
			fn = overlapRule(v)
		}
		out.AddRule(name, v.counted(name, fn))
	}
	return out
}

// counted is rule fn with its errors kept and counted.
func (v *validation) counted(name string, fn core.RuleFunc) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		fn(observers, func(opts ...core.ErrorOption) {
			if len(v.errs) == maxValidationErrors {
				v.abort(tooManyErrors())
			}
			e := &gqlerror.Error{Rule: name}
			for _, o := range opts {
				o(e)
			}
			v.errs = append(v.errs, e)
			addError(func(dst *gqlerror.Error) { *dst = *e })
		})
	}
}

// tooManyErrors ends a validation that found more than
// maxValidationErrors errors.
func tooManyErrors() *gqlerror.Error {
	e := gqlerror.Errorf("too many validation errors: validation stopped after %d", maxValidationErrors)
	errcode.Set(e, errcode.ValidationFailed)
	return e
}

// tooComplexToValidate ends a validation whose fragments expand past what
// one check may visit.
func tooComplexToValidate() *gqlerror.Error {
	e := gqlerror.Errorf("this document spreads fragments into more than %d selections; simplify it", overlapBudget)
	e.Extensions = map[string]any{"code": CodeQueryTooComplex, "limit": "fragment expansion", "max": overlapBudget}
	return e
}

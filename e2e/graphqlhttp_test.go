package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// auditResult is what e2e/graphql-http/run.mjs prints.
type auditResult struct {
	URL         string `json:"url"`
	GraphQLHTTP string `json:"graphqlHttp"`
	Summary     map[string]struct {
		Total  int `json:"total"`
		OK     int `json:"ok"`
		Failed int `json:"failed"`
	} `json:"summary"`
	Audits []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Level    string `json:"level"`
		Status   string `json:"status"`
		Reason   string `json:"reason"`
		Response *struct {
			Status      int    `json:"status"`
			ContentType string `json:"contentType"`
			Body        string `json:"body"`
		} `json:"response"`
	} `json:"audits"`
}

// The server speaks GraphQL over HTTP by the book: every MUST and SHOULD
// audit of graphql-http (the reference implementation's audit of
// https://graphql.github.io/graphql-over-http/draft/) passes. MAY audits
// are logged, not required.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node")
	}
	node, script := nodeHarness(t, "graphql-http", "graphql-http", "runs graphql-http's audit")
	h := setup(t, emulator.Options{}, fast)

	var res auditResult
	runNode(t, node, script, []string{h.url}, nil, &res)
	if len(res.Audits) == 0 {
		t.Fatalf("no audits ran: %+v", res)
	}
	t.Logf("graphql-http %s: MUST %d/%d, SHOULD %d/%d, MAY %d/%d passed", res.GraphQLHTTP,
		res.Summary["MUST"].OK, res.Summary["MUST"].Total,
		res.Summary["SHOULD"].OK, res.Summary["SHOULD"].Total,
		res.Summary["MAY"].OK, res.Summary["MAY"].Total)

	var failed []string
	for _, a := range res.Audits {
		line := a.ID + " " + a.Name
		if a.Status != "ok" {
			line += ": " + a.Reason
			if r := a.Response; r != nil {
				line += fmt.Sprintf("\n\tgot HTTP %d %s %s", r.Status, r.ContentType, r.Body)
			}
		}
		switch {
		case a.Level == "MAY":
			t.Logf("%-6s %s", a.Status, line)
		case a.Status != "ok":
			failed = append(failed, line)
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d MUST or SHOULD audits failed:\n%s", len(failed), strings.Join(failed, "\n"))
	}
}

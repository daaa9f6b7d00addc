package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/emulator"
)

// graphqlHTTPHarness installs the audit's packages when they are missing,
// as federationHarness does, so that `go test ./...` runs on a fresh machine.
func graphqlHTTPHarness(t *testing.T) (node, script string) {
	t.Helper()
	node = requireTool(t, "node", "Node.js 20 runs graphql-http's audit")
	dir := filepath.Join("e2e", "graphql-http")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "graphql-http")); err != nil {
		npm := requireTool(t, "npm", "npm installs graphql-http")
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--prefix", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci --prefix %s: %v\n%s", dir, err, out)
		}
	}
	return node, filepath.Join(dir, "run.mjs")
}

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
	node, script := graphqlHTTPHarness(t)
	h := setup(t, emulator.Options{}, fast)

	cmd := exec.Command(node, script, h.url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s %s: %v\nstderr:\n%s", script, h.url, err, stderr.String())
	}
	var res auditResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("audit output is not JSON: %v\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if len(res.Audits) == 0 {
		t.Fatalf("no audits ran:\n%s", stdout.String())
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

package main

import (
	"bytes"
	"testing"
)

// The ERROR records of a log are counted however its writes split it, and
// the log is passed on as it came.
func TestErrorLines(t *testing.T) {
	for _, tt := range []struct {
		name   string
		writes []string
		want   int64
	}{
		{"none", []string{"time=1 level=INFO msg=request\n", "level=WARN msg=x\n"}, 0},
		{"text", []string{"level=INFO msg=a\nlevel=ERROR msg=b\n", "level=ERROR msg=c\n"}, 2},
		{"json", []string{`{"level":"ERROR","msg":"b"}` + "\n"}, 1},
		{"split across writes", []string{"time=1 level=ERR", "OR msg=b\n"}, 1},
		{"split over three writes", []string{`{"lev`, `el":"ER`, `ROR"}` + "\n"}, 1},
		{"whole mark in the tail, counted once", []string{"x level=ERROR", "", "y\n", "level=INFO\n"}, 1},
		{"one byte at a time", splitBytes("a level=ERROR b\n{\"level\":\"ERROR\"}\n"), 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			e := &errorLines{w: &out}
			var all string
			for _, w := range tt.writes {
				if n, err := e.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
				all += w
			}
			if got := e.n.Load(); got != tt.want {
				t.Errorf("got %d ERROR records; want %d", got, tt.want)
			}
			if got := out.String(); got != all {
				t.Errorf("passed on %q; want %q", got, all)
			}
		})
	}
}

func splitBytes(s string) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i : i+1]
	}
	return out
}

package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    string // "port rate timeout"
		wantErr string
	}{
		{"defaults", nil, nil, "8080 5 30s", ""},
		{"environment", nil, map[string]string{"X_PORT": "9000", "X_RATE_LIMIT": "7"}, "9000 7 30s", ""},
		{"flag wins", []string{"-port", "1"}, map[string]string{"X_PORT": "9000"}, "1 5 30s", ""},
		{"empty variable is unset", nil, map[string]string{"X_PORT": ""}, "8080 5 30s", ""},
		{"other prefix ignored", nil, map[string]string{"PORT": "9000"}, "8080 5 30s", ""},
		{"malformed variable named", nil, map[string]string{"X_REQUEST_TIMEOUT": "soon"}, "", `X_REQUEST_TIMEOUT="soon"`},
		{"malformed flag", []string{"-port", "x"}, nil, "", "invalid value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			port := fs.Int("port", 8080, "port")
			rate := fs.Float64("rate-limit", 5, "rate")
			timeout := fs.Duration("request-timeout", 30*time.Second, "timeout")
			err := Parse(fs, tt.args, "X_", func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(*port, *rate, *timeout); got != tt.want {
				t.Errorf("got %s; want %s", got, tt.want)
			}
			if u := fs.Lookup("rate-limit").Usage; u != "rate (env X_RATE_LIMIT)" {
				t.Errorf("usage = %q; want the variable named", u)
			}
		})
	}
}

func TestParseHelp(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := Parse(fs, []string{"-h"}, "", nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("err = %v; want flag.ErrHelp", err)
	}
}

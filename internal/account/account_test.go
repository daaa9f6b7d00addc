package account_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/memories-facade/memories-graphql/internal/account"
)

func TestNew(t *testing.T) {
	tests := []struct {
		in      string
		wantKey string
		wantOK  bool
	}{
		{"sk-123", "sk-123", true},
		{"  sk-123  ", "sk-123", true},
		{"Bearer sk-123", "sk-123", true},
		{"bearer   sk-123", "sk-123", true},
		{"Bearer", "", false}, // a scheme without a key (HTTP trims "Bearer "), as the client and emulator read it
		{"Bearer ", "", false},
		{"", "", false},
		{"   ", "", false},
		{"your memories.ai API key (pass-through mode only)", "", false},
		{"Bearer sk 123", "", false},
	}
	for _, tt := range tests {
		a, ok := account.New(tt.in)
		if ok != tt.wantOK || a.Key() != tt.wantKey {
			t.Errorf("New(%q) = %q, %v; want %q, %v", tt.in, a.Key(), ok, tt.wantKey, tt.wantOK)
		}
	}
}

func TestIDStableAndDistinct(t *testing.T) {
	a, _ := account.New("key-a")
	a2, _ := account.New("Bearer key-a")
	b, _ := account.New("key-b")
	if got, want := a.ID(), a2.ID(); got != want {
		t.Errorf("same key, different ids: got %s; want %s", got, want)
	}
	if a.ID() == b.ID() {
		t.Errorf("different keys share id %s", a.ID())
	}
	if got, want := len(a.ID()), 64; got != want {
		t.Errorf("len(ID) = %d; want %d", got, want)
	}
}

func TestNeverPrintsKey(t *testing.T) {
	const key = "sk-very-secret-key"
	a, _ := account.New(key)
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "acct", a)
	outputs := []string{
		fmt.Sprint(a), fmt.Sprintf("%v", a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a),
		fmt.Sprintf("%s", a), logs.String(),
	}
	for _, got := range outputs {
		if strings.Contains(got, key) {
			t.Errorf("printed form %q contains the key", got)
		}
	}
}

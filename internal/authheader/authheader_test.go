package authheader

import "testing"

func TestCredential(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"sk-abc", "sk-abc"},
		{"  sk-abc\t", "sk-abc"},
		{"Bearer sk-abc", "sk-abc"},
		{"bearer   sk-abc ", "sk-abc"},
		{"BEARER\tsk-abc", "sk-abc"},
		{"Bearer", ""},
		{"Bearer ", ""},
		{"", ""},
		{"Bearersk-abc", "Bearersk-abc"}, // a key that starts with the word, not the scheme
		{"Basic dXNlcg==", "Basic dXNlcg=="},
	} {
		if got := Credential(tt.in); got != tt.want {
			t.Errorf("Credential(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestBearer(t *testing.T) {
	for _, tt := range []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"Bearer tok", "tok", true},
		{"bearer\ttok ", "tok", true},
		{"Bearer", "", true},
		{"tok", "", false},
		{"Bearertok", "", false},
		{"Basic dXNlcg==", "", false},
	} {
		if got, ok := Bearer(tt.in); got != tt.want || ok != tt.wantOK {
			t.Errorf("Bearer(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

package watch

import "testing"

// The watch's share is split among the replicas polling at each poll: as
// they come and go, each replica's part follows, and the burst stays whole.
func TestBudgetAmongReplicas(t *testing.T) {
	replicas := 1
	b := NewBudget(0.5, 10, 4, 10, 4).Among(func() int { return replicas })
	tests := []struct {
		replicas int
		want     float64 // calls/s of this replica's part
	}{
		{1, 5},
		{4, 1.25},
		{2, 2.5},
		{0, 5}, // never fewer than this one
	}
	for _, tt := range tests {
		replicas = tt.replicas
		b.allow("acct", false, 1)
		l := b.limiters[budgetKey{account: "acct"}]
		if got := float64(l.Limit()); got != tt.want {
			t.Errorf("%d replicas: rate = %v; want %v", tt.replicas, got, tt.want)
		}
		if got := l.Burst(); got != 2 {
			t.Errorf("%d replicas: burst = %d; want 2", tt.replicas, got)
		}
	}
}

// Without Among a replica takes the whole share.
func TestBudgetAlone(t *testing.T) {
	b := NewBudget(0.5, 10, 4, 2, 2)
	if !b.allow("acct", true, 1) {
		t.Fatal("allow(first call) = false; want true")
	}
	if got, want := float64(b.limiters[budgetKey{account: "acct", detail: true}].Limit()), 1.0; got != want {
		t.Errorf("detail rate = %v; want %v", got, want)
	}
}

package lease

import (
	"testing"
	"time"
)

// TestAnswers: the age of the last answer in an earlier term grows with the
// clock and moves when the term changes; a new record starts at its
// creation.
func TestAnswers(t *testing.T) {
	clk := &Manual{}
	clk.Advance(time.Hour)
	a := NewAnswers(clk)
	term := uint64(3)
	read := func() uint64 { return term }
	clk.Advance(time.Second)
	if got, age := a.Answer(read); got != 3 || age != time.Second {
		t.Fatalf("first answer: term %d age %v, want 3 and 1s (since the record began)", got, age)
	}
	clk.Advance(500 * time.Millisecond)
	a.Answer(read) // the last answer in term 3, at 1h1.5s
	if got := a.Older(4); got != clk.Now() {
		t.Fatalf("Older(4) = %v, want the last answer in 3 (%v)", got, clk.Now())
	}
	clk.Advance(2 * time.Second)
	term = 5
	if _, age := a.Answer(read); age != 2*time.Second {
		t.Fatalf("first answer in term 5: older age %v, want 2s", age)
	}
	clk.Advance(time.Second)
	if _, age := a.Answer(read); age != 3*time.Second {
		t.Fatalf("later answer in term 5: older age %v, want 3s", age)
	}
	if got := a.Older(5); got != Time(time.Hour+1500*time.Millisecond) {
		t.Fatalf("Older(5) = %v", got)
	}
	if got := a.Older(2); got != clk.Now() {
		t.Fatalf("Older of a past term = %v, want now", got)
	}
}

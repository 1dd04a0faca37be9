package admin

import (
	"fmt"
	"testing"
	"time"
)

func fail(t *loginThrottle, name string, now time.Time) bool {
	ok, _ := t.admit(name, now)
	if ok {
		t.done(name, now, false)
	}
	return ok
}

func TestThrottleSlidingWindow(t *testing.T) {
	th := newLoginThrottle(time.Minute, 5, 100)
	t0 := time.Unix(1000, 0)
	for i := 0; i < 5; i++ {
		if !fail(th, "u", t0.Add(time.Duration(i)*10*time.Second)) {
			t.Fatalf("attempt %d refused", i)
		}
	}
	ok, wait := th.admit("u", t0.Add(45*time.Second))
	if ok || wait != 15*time.Second {
		t.Fatalf("ok=%v wait=%v", ok, wait)
	}
	// At t0+60s the first failure leaves the window: one more try.
	if !fail(th, "u", t0.Add(60*time.Second)) {
		t.Fatal("not readmitted after the window")
	}
	ok, wait = th.admit("u", t0.Add(61*time.Second))
	if ok || wait != 9*time.Second { // the failure at t0+10s leaves at t0+70s
		t.Fatalf("ok=%v wait=%v", ok, wait)
	}
	// A success clears the name.
	ok, _ = th.admit("u", t0.Add(10*time.Minute))
	if !ok {
		t.Fatal()
	}
	th.done("u", t0.Add(10*time.Minute), true)
	if th.size() != 0 {
		t.Fatalf("%d names after success", th.size())
	}
}

func TestThrottlePendingCountsAsFailure(t *testing.T) {
	th := newLoginThrottle(time.Minute, 2, 100)
	now := time.Unix(1000, 0)
	a, _ := th.admit("u", now)
	b, _ := th.admit("u", now)
	c, wait := th.admit("u", now)
	if !a || !b || c || wait != time.Second {
		t.Fatalf("%v %v %v %v", a, b, c, wait)
	}
	th.cancel("u")
	if ok, _ := th.admit("u", now); !ok {
		t.Fatal("cancel did not free the slot")
	}
}

func TestThrottleBoundedMemory(t *testing.T) {
	th := newLoginThrottle(time.Minute, 5, 50)
	now := time.Unix(1000, 0)
	// Keep "target" locked while a flood of other names arrives; it stays
	// tracked as long as it keeps being tried (least recently used goes).
	for i := 0; i < 5; i++ {
		fail(th, "target", now)
	}
	for i := 0; i < 1000; i++ {
		now = now.Add(time.Millisecond)
		fail(th, fmt.Sprintf("name%d", i), now)
		if i%10 == 0 {
			if ok, _ := th.admit("target", now); ok {
				t.Fatalf("target unlocked by the flood at %d", i)
			}
		}
		if th.size() > 50 {
			t.Fatalf("%d names tracked", th.size())
		}
	}
	// Expired names are dropped first.
	now = now.Add(2 * time.Minute)
	fail(th, "late", now)
	if th.size() != 1 {
		t.Fatalf("%d names after expiry", th.size())
	}
}

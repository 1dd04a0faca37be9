package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// scenario is one kind of load. Setup runs once before the clock starts
// (logins, fixtures); Op is one timed request. Op is called concurrently by
// workers 0..concurrency-1, each with its own increasing iter, so a scenario
// can give every worker its own keys and never make two workers race.
type scenario interface {
	Setup(ctx context.Context, concurrency int) error
	Op(ctx context.Context, worker, iter int) error
}

// statusError is an unexpected HTTP status; the runner counts errors by it.
type statusError struct {
	Code int
	Body string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

// errorKey classifies an Op error for the error table: "HTTP 503",
// "timeout", or "transport".
func errorKey(err error) string {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("HTTP %d", se.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			return "timeout"
		}
		return "transport"
	}
}

// runResult is what the workers measured.
type runResult struct {
	Elapsed   time.Duration
	Latencies []time.Duration // successful ops only
	Errors    map[string]int64
	ErrorHint map[string]string // one example message per error key
}

// workerResult is one worker's share, merged after the run (no locks on
// the hot path).
type workerResult struct {
	lat  []time.Duration
	errs map[string]int64
	hint map[string]string
}

// run starts concurrency workers that call sc.Op back to back until the
// duration has passed (requests in flight then finish) or ctx ends.
func run(ctx context.Context, sc scenario, concurrency int, duration time.Duration) runResult {
	results := make([]workerResult, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := workerResult{errs: map[string]int64{}, hint: map[string]string{}}
			for iter := 0; time.Now().Before(deadline) && ctx.Err() == nil; iter++ {
				t0 := time.Now()
				err := sc.Op(ctx, w, iter)
				lat := time.Since(t0)
				if ctx.Err() != nil {
					break // interrupted: the last op does not count
				}
				if err != nil {
					k := errorKey(err)
					r.errs[k]++
					if _, ok := r.hint[k]; !ok {
						r.hint[k] = err.Error()
					}
					continue
				}
				r.lat = append(r.lat, lat)
			}
			results[w] = r
		}()
	}
	wg.Wait()
	out := runResult{Elapsed: time.Since(start), Errors: map[string]int64{}, ErrorHint: map[string]string{}}
	for _, r := range results {
		out.Latencies = append(out.Latencies, r.lat...)
		for k, n := range r.errs {
			out.Errors[k] += n
		}
		for k, h := range r.hint {
			if _, ok := out.ErrorHint[k]; !ok {
				out.ErrorHint[k] = h
			}
		}
	}
	return out
}

// forEachParallel runs fn(0..n-1) on up to c goroutines (setup work, not
// measured) and returns the first error, or ctx's.
func forEachParallel(ctx context.Context, c, n int, fn func(i int) error) error {
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range max(c, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// Package wake has Signal, which wakes every goroutine waiting for a change
// of some state that its owner publishes elsewhere (an atomic value, say).
package wake

import "sync"

// Signal wakes every goroutine waiting on it: Next returns a channel that
// the following Fire closes. Take the channel before checking the state the
// signal announces, or a change between the two goes unnoticed. The zero
// value is ready to use.
type Signal struct {
	mu sync.Mutex
	ch chan struct{} // nil while nobody waits
}

// Next returns a channel closed by the next Fire.
func (s *Signal) Next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Fire wakes every goroutine waiting on a channel from Next.
func (s *Signal) Fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

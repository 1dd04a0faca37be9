package main

import (
	"fmt"
	"sync"
	"time"
)

// The history is everything the clients saw, with the driver's monotonic
// clock: when each request was sent (taken just before the client call, so
// never later than the bytes left) and when its answer was complete (taken
// after the client call returned and the body was read, so never earlier
// than the answer arrived). Both errors make the checker more lenient, never
// stricter: a violation it reports happened.

// Outcome is how a request ended, as far as the client can tell.
type Outcome int

const (
	// OK: a 2xx answer (for a read: 200 or 404, an answer about the key).
	OK Outcome = iota
	// Failed: a definite refusal (4xx); a write that failed so did not
	// happen.
	Failed
	// InDoubt: a timeout, a lost connection or a 5xx after the request
	// left: a write may or may not have been applied.
	InDoubt
)

func (o Outcome) String() string { return [...]string{"ok", "failed", "in-doubt"}[o] }

// classify turns an HTTP status (0: no answer) into an Outcome.
func classify(status int) Outcome {
	switch {
	case status >= 200 && status < 300:
		return OK
	case status >= 400 && status < 500:
		return Failed
	}
	return InDoubt
}

// clock is the driver's time base: durations since the run started, on the
// monotonic clock.
type clock struct{ start time.Time }

func (c clock) now() time.Duration { return time.Since(c.start) }

// at formats a time of the run, in seconds with milliseconds.
func at(d time.Duration) string { return fmt.Sprintf("t=%.3fs", d.Seconds()) }

// WriteOp is one PUT or DELETE of a writer. Seq numbers a key's operations
// 1, 2, 3, ... in the order its writer sent them (one at a time); a PUT
// stores version Seq.
type WriteOp struct {
	Key      string
	Seq      int
	Delete   bool
	Sum      [32]byte // SHA-256 of the body (PUT)
	Size     int
	Node     int
	Sent     time.Duration
	Answered time.Duration
	Status   int
	Outcome  Outcome
	Err      string
}

// ReadOp is one GET of a reader. Found with Seq: the body names version
// Seq; BodyOK: it is byte-identical to what that PUT sent. Outcome OK
// means the node answered about the key (200 or 404).
type ReadOp struct {
	Key      string
	Node     int
	Sent     time.Duration
	Answered time.Duration
	Status   int
	Outcome  Outcome
	Found    bool
	Seq      int
	BodyOK   bool
	Err      string
}

// ProbeReq is one S3 request with a victim's credential. Final: sent by the
// final check after healing.
type ProbeReq struct {
	Round     int
	AccessKey string
	Op        string // ListBuckets, GetObject, PutObject
	Node      int
	Sent      time.Duration
	Answered  time.Duration
	Status    int
	Err       string
	Final     bool
}

// RevokeKind is what a probe round takes away.
type RevokeKind int

const (
	Revoke RevokeKind = iota
	Regenerate
	Deactivate
	DeleteUser
	Demote
)

var revokeKinds = []RevokeKind{Revoke, Regenerate, Deactivate, DeleteUser, Demote}

func (k RevokeKind) String() string {
	return [...]string{"revoke", "regenerate", "deactivate", "delete-user", "demote"}[k]
}

// denies reports whether, after a revocation of kind k, a request of op
// with the old credential must be refused: a demotion from Writer to
// Reader takes only writes away.
func (k RevokeKind) denies(op string) bool {
	if k == Demote {
		return op == "PutObject"
	}
	return true
}

// Revocation is the admin request of one probe round. Answered is A, the
// acknowledgement, when Outcome is OK.
type Revocation struct {
	Round        int
	Kind         RevokeKind
	User         string
	AccessKey    string // the victim's key before the round
	Secret       string // and its secret
	NewKey       string // Regenerate: the key issued instead
	NewSecret    string
	Node         int
	Sent         time.Duration
	Answered     time.Duration
	Status       int
	Outcome      Outcome
	ConfirmedBy  string
	LeaseExpired string
	Err          string
}

// AdminOp is any other admin request (IAM churn, probe set-up), counted.
type AdminOp struct {
	Kind     string
	Node     int
	Sent     time.Duration
	Answered time.Duration
	Status   int
	Outcome  Outcome
}

// Fault is one injected fault.
type Fault struct {
	Kind   string
	Target int
	Start  time.Duration
	End    time.Duration
	Note   string
}

// FinalRead is the GET of one key on one node after healing.
type FinalRead struct {
	Key    string
	Node   int
	Found  bool
	Seq    int
	Size   int
	BodyOK bool
	Err    string // no answer about the key within the deadline
}

// FinalList is a ListObjectsV2 of the workload bucket on one node after
// healing: key -> size.
type FinalList struct {
	Node int
	Keys map[string]int64
	Err  string
}

// KeyCheck is a request with a regenerated (new) key after healing: it must
// work on every node.
type KeyCheck struct {
	Round  int
	Node   int
	Status int
	Err    string
}

// History collects every record; safe for concurrent use.
type History struct {
	mu          sync.Mutex
	Writes      []WriteOp
	Reads       []ReadOp
	Probes      []ProbeReq
	Revocations []Revocation
	Admin       []AdminOp
	Faults      []Fault
	FinalReads  []FinalRead
	FinalLists  []FinalList
	KeyChecks   []KeyCheck
	// Keys are every key the writers own (written or not), in the
	// workload bucket.
	Keys []string
	// Notes are events worth reading that are not violations (a node
	// that exited on its own, a fault skipped).
	Notes []string
	// Failures are violations found outside the history (the cluster did
	// not recover, the final reads could not be made).
	Failures []Violation
}

func (h *History) addWrite(w WriteOp) {
	h.mu.Lock()
	h.Writes = append(h.Writes, w)
	h.mu.Unlock()
}

func (h *History) addRead(r ReadOp) {
	h.mu.Lock()
	h.Reads = append(h.Reads, r)
	h.mu.Unlock()
}

func (h *History) addProbe(p ProbeReq) {
	h.mu.Lock()
	h.Probes = append(h.Probes, p)
	h.mu.Unlock()
}

func (h *History) addRevocation(r Revocation) {
	h.mu.Lock()
	h.Revocations = append(h.Revocations, r)
	h.mu.Unlock()
}

func (h *History) addAdmin(a AdminOp) {
	h.mu.Lock()
	h.Admin = append(h.Admin, a)
	h.mu.Unlock()
}

func (h *History) addFault(f Fault) {
	h.mu.Lock()
	h.Faults = append(h.Faults, f)
	h.mu.Unlock()
}

func (h *History) addNote(format string, args ...any) {
	h.mu.Lock()
	h.Notes = append(h.Notes, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

func (h *History) addFailure(v Violation) {
	h.mu.Lock()
	h.Failures = append(h.Failures, v)
	h.mu.Unlock()
}

// lastAnswer is the latest answer time of any write (the workload's end).
func (h *History) lastAnswer() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var last time.Duration
	for _, w := range h.Writes {
		last = max(last, w.Answered)
	}
	return last
}

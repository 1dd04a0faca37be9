// Package lease keeps the bookkeeping of who may answer from its own state
// in an S4 cluster, with no I/O and no Raft: the arguments and the waits
// are in docs/DESIGN.md ("Leases"), the wiring to Raft and the status line
// in package node (lease.go, lease_follower.go, lease_leader.go).
//
// Files:
//
//   - clock.go: Time, the Clock every lease is timed on (System:
//     CLOCK_BOOTTIME on Linux, which counts while the process is stopped
//     and while the machine is suspended) and Manual, a clock tests move.
//   - follower.go: Follower, a follower's grants (each timed from before
//     its question left, never longer than the leader's own lease still
//     held) and Await, which checks again after every wait.
//   - leader.go: Leader, the leader lease (a majority of voters
//     acknowledged the term within the lease, timed from when the leader
//     asked) and the hand-over of a new term.
//   - answers.go: Answers, when this node last answered in an earlier term
//     (what a new leader's hand-over counts).
//   - given.go: Given, until when the grants a leader gave each node hold
//     (what the revocation barrier waits for, at most).
//
// Invariants: a holder times a lease from a reading taken before the
// message that granted it left; whoever waits out another node's lease
// waits the lease plus a margin from a reading taken after the event that
// bounds it. The per-request checks (Follower.Serving, Leader.Valid) are
// one clock reading and an atomic load, without allocation.
package lease

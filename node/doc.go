// Package node assembles and runs one S4 node: the Raft log (raft-boltdb/v2
// log and stable store, file snapshots, the mutual-TLS transport of package
// transport), the FSM, and the HTTPS server that carries the S3 API and the
// admin API on one port. It is the only package that touches *raft.Raft.
//
// Lifecycle: Open creates or reopens the data dir. A data dir without Raft
// state bootstraps a one-node cluster (never twice: an existing log, term or
// snapshot means resume). Once the node leads and its FSM has caught up with
// the log (a Barrier), it is ready; on the very first start it then proposes
// the root user, as an event like any other. Close shuts everything down in
// reverse order.
//
// Object data across nodes (replication, fetches, catch-up, garbage
// collection) is package objects; node builds its Service and wires it to
// Raft, the metadata store, the blob store, the disk monitor and the
// cluster RPC (objects.go).
//
// # Files
//
//	doc.go            this overview
//	node.go           Node, Open and Close: the wiring
//	config.go         Config, its defaults and checks
//	raft.go           Raft's stores, the cluster port, the Raft config, bootstrap
//	ready.go          readiness: becomeReady, followerCaughtUp, the root user, /health/ready
//	apply.go          the Raft apply (Apply) and the rest of cluster.Local
//	status.go         the answer to status questions (cluster.StatusReporter)
//	http.go           the HTTPS server: admin, health and S3 on one port
//	lease.go          who may answer from local state: the overview, ServeS3
//	lease_follower.go the follower's lease: grants from the leader
//	lease_leader.go   the leader's lease and the hand-over
//	leaderterm.go     a new leader's Barrier of its own term
//	fresh.go          FreshRead: read-after-write through any node
//	barrier.go        the revocation barrier
//	membership.go     membership changes from any node (cluster.Membership)
//	join.go           joining a running cluster (--join)
//	cluster_admin.go  the cluster admin view (admin.ClusterAdmin)
//	disk.go           the free-space reserve's monitor
//	objects.go        the object-data service's wiring (package objects)
//	history.go        the IAM history's retention: the leader proposes its cut-off
//	snapshots.go      the snapshot threshold that follows the metadata store
//	lifecycle.go      the lifecycle evaluator: the leader proposes expirations
//	compact.go        s4 compact-log: a stopped node's raft.db without free pages
//	metrics.go        GET /metrics: the scrape token's check, what is read at
//	                  scrape time (Raft, leases, FSM, disk, blobs), the
//	                  barrier's timing, leader changes; the access log's wiring
package node

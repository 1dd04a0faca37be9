// Package objects owns object data across the nodes of a cluster: the
// bytes of S3 objects as the cluster keeps them, between package blob (one
// node's blobs on its own disk) and package meta (the metadata, which
// names the blobs). The name says what it is about, object data, as
// opposed to the metadata that the Raft log carries (docs/DESIGN.md,
// "Object data").
//
// A Service does, for the node it runs on:
//
//   - replication: a PUT's blob is copied to the other voters until a
//     majority holds it (Replicate);
//   - fetch on miss: a GET of a blob this node lacks copies it from a peer
//     and keeps it (Fetch), or, at the free-space reserve, reads it from a
//     peer without keeping it (Stream);
//   - repair: a blob whose block fails its CRC32C here is replaced by a
//     good copy from a peer (Repair; the S3 GET calls it and reads on),
//     and so is an inline body of the metadata store (RepairInline);
//   - the scrubber: every blob re-read and checked in the background at
//     a bounded rate, repaired from a peer if it fails (scrub.go);
//   - background catch-up: a node that missed copies (it was down, or at
//     its reserve) fetches every referenced blob it lacks (catchup.go);
//   - garbage collection of the blobs no object references any more, and
//     the orphan sweep (gc.go);
//   - the reserve's part: refusing object data at the free-space reserve
//     (s3.Space, cluster.SpaceGuard) and running the collector at once
//     there (the GC kicks, reserve.go).
//
// It implements s3.Replicator (Replicate, Fetch, Repair, Stream, RepairInline) and s3.Space for
// the S3 API, and cluster.SpaceGuard for the blob endpoints of the
// internal RPC. It depends only on the small interfaces it declares in
// service.go (the Raft configuration's peers, readiness, FreshRead, the
// metadata store's reference queries, the blob store, the disk monitor,
// the cluster RPC client), never on Raft or on the node: package node
// builds it in Open, starts and stops it, and hands it to the S3 handler
// and to the cluster server.
//
// The wire of blob copies and fetches (PUT and GET /v1/blobs/{hex}, their
// client and their server side) stays in package cluster, which owns the
// internal RPC and its connections (cluster/DESIGN.md): this package calls
// it through Transfer, and the server side receives copies into the blob
// store, checked against the reserve by this package's Check.
//
// # Files
//
//	doc.go        this overview
//	service.go    Service, Config, the interfaces it needs, Start/Stop/Wait
//	replicate.go  Replicate: a PUT's blob to a majority of the voters
//	fetch.go      Fetch: a missing blob from a peer, kept; Repair
//	inline.go     RepairInline: a corrupt inline body from a peer
//	stream.go     Stream: a blob from a peer, not kept, checked as it passes
//	catchup.go    the background catch-up of missing blobs
//	gc.go         garbage collection and the orphan sweep
//	scrub.go      the scrubber: blobs (and inline bodies, a hook) re-checked
//	              and repaired
//	reserve.go    the free-space reserve: Check, NoSpace, Released, GC kicks
//
// # Invariants
//
// Majority before acknowledgement. Replicate returns nil only once a
// majority of the voters, this node counted, holds the blob durably (the
// peers commit their copies with fsync before they answer); the S3 API
// proposes the metadata event only after that, so an acknowledged object
// survives the loss of any minority of the nodes. Copies still in flight
// go on in the background; catch-up repairs the ones that fail.
//
// Pins and the GC protocol (package blob, "Pins and removal"). A blob is
// removed only through blob.Store.Remove with a callback that re-checks,
// under the store's lock, that no object or part references it; a pinned
// blob is never removed. A writer pins its blob before it proposes the
// metadata event (package s3), a peer pins a copy it received for
// cluster.BlobPinGrace, so the metadata that refers to it has time to
// arrive. The collector removes only blobs on the metadata store's garbage
// list and drops a list entry once the blob is gone; the orphan sweep
// removes unreferenced blobs older than orphanMinAge that never were on
// the list. A catch-up fetch is not pinned: it re-checks the reference
// count after the fetch and removes the blob again if its object was
// deleted meanwhile (catchup.go), so nothing fetched stays behind.
//
// Checked block by block. Every local read (a copy to a peer, a GET
// served to a peer, an S3 GET) goes through blob.Reader, which checks each
// 1 MiB block's CRC32C before it hands out a byte of it, so a node never
// passes on a block that rotted on its disk; the receiving side checks
// what arrives before it commits: a PUT's copy against the size and CRC32C
// the node taking the PUT computed, a fetch against those of the sending
// node's trailer (whose blocks that node checked as it sent them).
//
// Never keep what cannot be stored at the reserve. At the free-space
// reserve (package disk) this node stores no object data: Check refuses
// writes and copies from peers, Fetch keeps nothing, catch-up and the
// scrubber pause, and
// a GET reads the blob from a peer without keeping it (Stream). A write
// that fails with ENOSPC anyway is reported as no space (disk.ErrFull
// through disk.IsNoSpace) and makes the monitor read the free space again.
// A replication that misses its majority is "no space" only if every
// failed copy failed for space, so that a 507 means "no room", never "a
// peer was down".
package objects

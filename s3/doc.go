// Package s3 is S4's S3 API on fasthttp: the operations (buckets, objects,
// multipart uploads, listings, ACLs), which request is which operation and
// which role may run it, the XML bodies, and the Handler that serves them.
// Two packages below it hold the rest: s3/sig checks what proves who sent
// a request and that its body is what they sent (signatures, aws-chunked
// bodies, checksums), and s3/s3err is the S3 error table and its XML
// document.
//
// # A request
//
// Handler.ServeFastHTTP serves one request (handler.go), in this order:
//
//  1. Gate. A node that must not serve now (starting, catching up, fenced,
//     out of its auth lease) answers 503 ServiceUnavailable before it reads
//     anything else (Gate; docs/DESIGN.md "Leases").
//  2. Authenticate. The path splits into bucket and key, decoded once and
//     never normalised (keys are data, not paths). The credential is parsed
//     (sig.ParseRequestAuth), looked up in the auth index (an unknown,
//     revoked or replaced key is InvalidAccessKeyId, a deactivated user
//     AccessDenied) and its signature verified with the secret found there
//     (sig.Verifier). Anonymous requests are AccessDenied.
//  3. Role. The request's method, sub-resource and x-amz-copy-source pick
//     the operation (route.go; an unknown sub-resource is NotImplemented),
//     and the user's role must reach the operation's: Readers list and
//     read, Writers also change buckets and objects, SuperUsers do
//     everything (docs/DESIGN.md "Roles").
//  4. Fresh read. On a node that may not have applied every acknowledged
//     write yet (a follower), FreshReader.FreshRead waits until it has:
//     S3's read-after-write, through any node.
//  5. Operation. It reads the metadata store, and changes it only by
//     proposing an event (the FSM's domain errors become S3 errors); object
//     bytes up to Config.InlineThreshold travel inside their event and are
//     kept with the metadata (inline.go), larger ones go to blobs, copied
//     to a majority of the nodes before their metadata is proposed; both
//     are refused at the free-space reserve. A body is verified as it was
//     signed before anything is committed, and an inline body's CRC32C
//     before any byte of it is sent (one that fails is read from a peer,
//     Replicator.RepairInline, which repairs this node's copy too).
//
// Any failure is an *s3err.Error rendered as S3's XML error document (no
// body for HEAD, validators kept on a 304); a panic is InternalError.
// Once answered, every request is counted (Config.Metrics: by operation
// and status, its latency and bytes; refusals of steps 2 and 3 by reason)
// and, when the access log is on (Config.AccessLog), logged as one JSON
// line (observe.go).
//
// # What it depends on
//
// The handler sees the rest of the node through interfaces it declares
// (interfaces.go), each satisfied by the node's own part as it is:
//
//   - AuthIndex: the auth index and user table (*fsm.FSM), read on every
//     request without a lock.
//   - Metadata: reads of the object-metadata store (*meta.Store): buckets,
//     objects, listings, uploads, parts, blob reference counts.
//   - Blobs: the local blob store (*blob.Store): create, open, pin, has,
//     remove.
//   - Proposer: commits an event through the cluster and returns once this
//     node's FSM applied it.
//   - Gate and FreshReader: whether the node may serve now, and the wait
//     for a fresh read (the node; nil Gate: always).
//   - Replicator: blobs (and good copies of inline bodies) to and from
//     the peers (nil on a single node).
//   - Space: the free-space reserve of the data dir (nil: no reserve).
//
// # Files
//
//   - handler.go: Handler, New, the request flow above, errors, proposing.
//   - observe.go: metrics and the access log of every request; the keys
//     revoked since the start (an auth failure's reason).
//   - interfaces.go: the interfaces above.
//   - route.go: the operations, their roles, the routing rules.
//   - ops_bucket.go: bucket operations, ACLs, listings, DeleteObjects,
//     ListMultipartUploads.
//   - ops_object.go: PutObject, GetObject and HeadObject, CopyObject,
//     DeleteObject; object headers and checksums on the wire.
//   - ops_multipart.go: the multipart upload operations.
//   - tagging.go: object and bucket tagging, its XML and x-amz-tagging.
//   - versions.go: versioning: version IDs (made and parsed), a version
//     looked up with S3's answers for delete markers;
//   - lifecycle.go: bucket lifecycle configuration (?lifecycle), its XML
//     and S3's rules for it.
//   - objectreader.go: an object's bytes, part by part, from the local
//     blobs or a peer.
//   - payload.go: request bodies as signed: inline, into a blob, or into
//     memory (XML bodies).
//   - inline.go: inline bodies: the spill from memory to a blob past the
//     threshold, the check of an inline body before it is sent.
//   - data.go: object data around an operation: replication, fetches
//     from peers, the free-space reserve.
//   - conditional.go, range.go, validate.go: conditional headers, ranges,
//     names, keys, canned ACLs, ETags.
//   - xml.go: the XML request and response bodies.
//
// Its tests of the operations (api_*_test.go) run aws-sdk-go-v2 and
// minio-go against a Handler over a temporary metadata store and blob
// store, its events applied to a real FSM (harness_test.go); package node
// tests the S3 API through a real node.
package s3

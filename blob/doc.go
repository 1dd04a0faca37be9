// Package blob owns object bytes on one node's local disk, content addressed
// by SHA-256 and checked in blocks by CRC32C.
//
// # Layout
//
//	dir/FORMAT               the layout's version: "s4 blob store format 2\n"
//	dir/tmp/                 files being written (random names, mode 0600)
//	dir/blocks/ab/<hex>      committed blobs; <hex> is the 64-digit lower-case
//	                         SHA-256 of the content, ab its first byte
//	dir/corrupt/<hex>        blobs a migration found not to match their name
//
// The 256 fan-out directories are created (and made durable) by [Open], so a
// commit never creates a directory. A million blobs make ~4,000 entries per
// directory, which ext4's and xfs's hashed directories handle without a
// slowdown.
//
// # File format
//
// A blob file is the content followed by a trailer:
//
//	content            Size bytes
//	block CRCs         N × uint32, big-endian: the CRC32C (Castagnoli) of
//	                   each block of BlockSize (1 MiB) bytes, the last block
//	                   shorter; N = ceil(Size / BlockSize), 0 for no content
//	footer, 28 bytes:  magic "S4BLOCK" and the trailer version 0x01 (8 bytes),
//	                   block size (uint32), Size (uint64), the CRC32C of
//	                   the whole content (uint32), and the CRC32C of the
//	                   block CRCs and the footer's first 24 bytes (uint32)
//
// (all big-endian). A file whose footer is damaged or whose length does not
// match Size plus its trailer is corrupt as a whole ([ErrCorrupt] from
// [Store.Open]). The trailer costs 4 bytes per MiB plus 28; the CRCs are
// computed as the bytes are written, in the same pass as the hashes
// (CRC32C runs in hardware on amd64 and arm64: ~0.1 ms per MiB).
//
// # Reading
//
// [Store.Open] returns a [Reader], which reads one whole block into a
// buffer (pooled, at most BlockSize), checks its CRC32C and only then
// returns bytes of it: a block that fails gives an error wrapping
// ErrCorrupt and none of its bytes, while the blocks before it were good.
// A range read (ReadAt, Seek) verifies only the blocks it touches.
// [Store.Verify] checks every block (what a scrubber does). A corrupt copy
// is repaired by committing a good one over it ([Store.CreateReplacement]);
// package objects fetches it from a peer.
//
// # Format versions
//
// Format 1 (until this trailer) kept the bare content in
// dir/sha256/ab/<hex> (earlier still dir/sha256/ab/cd/<hex>), with no
// FORMAT file. [Open] migrates such a store on start, one blob at a time:
// it hashes the blob (SHA-256, so that no corrupt content gets checksums
// that would vouch for it), writes it with its trailer to a temp file,
// fsyncs and renames it into dir/blocks and only then removes the old
// file. A crash leaves every blob in at least one of the two places and
// the next Open goes on; FORMAT is written once the old tree is empty. A
// blob that does not hash to its name is moved to dir/corrupt (the node's
// catch-up then fetches it from a peer) and reported in
// [Store.Migrated]. The migration reads every blob once (SHA-256 at
// ~2 GB/s with SHA-NI, and a copy): for large stores the node's start
// takes that long; [OpenWith]'s logger gets a line at its start, one
// every 10 s and one at its end. A migration that fails (a full disk: it needs room for
// the largest blob) makes Open fail with a message that says so; nothing
// is lost and the next start resumes. A FORMAT with a newer version, or
// one this package did not write, makes Open refuse and change nothing.
// An S4 older than format 2 must not be started on a migrated data dir:
// it would not see the blobs in dir/blocks (they stay there, untouched).
//
// Paths are built only from digests: the hex of a SHA-256 the store computed
// itself, or of a [32]byte handed in by the caller. No object key, bucket name
// or other client input ever becomes part of a path, so nothing a client sends
// can make the store touch a file outside dir.
//
// # Writing
//
// [Store.Create] opens a temp file; the [Writer] hashes every byte (SHA-256,
// MD5 and CRC32C, in the same pass) as it writes it to the file, so a body is
// never held in memory. [Store.Put] does Create, copy and Commit through one fixed-size
// buffer (256 KiB) and enforces a size limit without reading more than one byte
// past it.
//
// # Durability
//
// [Writer.Commit] appends the block trailer and makes the blob durable
// before it returns:
//
//  1. fsync of the temp file (data and size);
//  2. rename of the temp file to dir/blocks/ab/<hex>;
//  3. fsync of dir/blocks/ab, which makes the new name durable.
//
// If the target name exists already (same content, written earlier or by a
// concurrent Commit), the rename replaces it atomically: the new file was
// checked a moment ago, the old one may have rotted since, so a re-PUT of
// the same content heals a corrupt copy (a reader keeps the file it
// opened). The directory is fsynced either way, so that Commit never
// returns before the blob's name is durable. Concurrent commits of the same
// content are therefore safe and all return the same [Ref].
//
// [Store.Remove] unlinks the blob and then fsyncs its directory. [Open]
// creates dir, dir/tmp, dir/blocks and its 256 fan-out directories and
// fsyncs their parents.
//
// # Crash behaviour
//
// A crash at any point leaves at most files under dir/tmp; [Open] removes
// everything found there (so one directory must be used by at most one Store
// at a time). A file visible under dir/blocks got there by an atomic rename
// after its data was fsynced, so it is always complete and its content hashes
// to its name: hashed here, or, for a copy made with [Store.CreateCopyOf], by
// the node where the bytes entered the cluster (see "Copies" below). A blob whose Commit had not returned may or may not be present
// after the crash; a blob whose Remove had not returned may still be present
// and is then simply garbage again.
//
// # Copies
//
// A blob that another node of the cluster already holds arrives in one of
// two ways. [Store.CreateCopy] hashes it like any blob (SHA-256, no MD5): for
// fetches of blobs that sat on a peer's disk. [Store.CreateCopyOf] takes the
// [Ref] the sending node computed when the bytes entered the cluster and
// checks the copy against its size and CRC32C only, then commits it under
// the sender's SHA-256: for the copies a PUT makes to its peers. The copy
// travels over mutually authenticated TLS (AES-GCM, integrity-checked), and
// the CRC32C, computed in the same pass as the sender's SHA-256, catches what
// TLS cannot: a blob that changed on the sender's disk between the PUT and
// the copy, or a framing bug. It costs ~0.1 ms per MiB where SHA-256 costs
// 4.6 ms on the CPUs of BENCHMARKS.md, twice per PUT on three nodes.
//
// # Pins and removal
//
// Blobs are referenced by object metadata that lives elsewhere (the Raft log
// and the FSM's metadata store), so removing an unreferenced blob races with a
// PUT that is about to reference it. Pins close that race. The protocol:
//
//   - A writer pins the digest before it proposes the metadata event and unpins
//     after its own FSM applied it (or after the proposal failed). Use
//     [Store.PutPinned] or [Writer.CommitPinned], which take the pin under the
//     same lock as the commit itself, so that there is no moment at which the
//     freshly committed (or deduplicated) blob is neither pinned nor
//     referenced. [Store.Pin] pins a digest known in advance.
//   - The garbage collector calls [Store.Remove] with a callback that re-checks
//     the reference count in the metadata store. Remove holds the lock that Pin
//     and Commit take, checks the pin count, then calls the callback, and
//     deletes the file only if the blob is unpinned and the callback reports it
//     still unreferenced. Once the writer's metadata event is applied, the
//     callback sees the reference; until then the pin protects the blob.
//
// Pins are per node. A blob copied to a peer before the metadata event is
// proposed is unreferenced on that peer until the event is applied there, so
// the GC must not remove blobs that are merely young: it should only remove a
// blob that was found unreferenced on two passes some time apart (or pin blobs
// received from peers until the event is applied).
//
// # Repair
//
// [Store.Verify] checks a blob's blocks and reports [ErrCorrupt] on a
// mismatch. To repair, write the content fetched from a peer through
// [Store.CreateReplacement]: its Commit renames the good copy over the bad
// one, so the blob never disappears and pins do not stand in the way.
//
// # Files
//
//	doc.go     this overview
//	blob.go    Store, Writer: create, commit, open, pins, remove, walk
//	block.go   the block trailer: its format, its parser, the block CRCs
//	reader.go  Reader: reads verified block by block
//	format.go  the FORMAT file and the migration from format 1
package blob

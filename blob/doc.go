// Package blob owns object bytes on one node's local disk, named by random
// IDs and checked in blocks by CRC32C.
//
// # Layout
//
//	dir/FORMAT               the layout's version: "s4 blob store format 3\n"
//	dir/tmp/                 files being written (random names, mode 0600)
//	dir/blocks/ab/<hex>      committed blobs; <hex> is the 64-digit lower-case
//	                         hex of the blob's ID, ab its first byte
//	dir/corrupt/<hex>        blobs a migration found not to match their name
//
// # Names
//
// [Store.Create] gives a new blob a random 256-bit ID (crypto/rand); the
// metadata event that stores an object carries it with the size (package
// meta, BlobPart), and a copy of the blob on another node has the same ID.
// Nothing on the PUT path computes a SHA-256 for the name: the bytes are
// hashed once for the ETag's MD5 and once for the CRC32Cs, and a client's
// SHA-256 (a signed payload, an x-amz-checksum-sha256) is computed only
// when the client sends one (package sig). Until format 3 a blob was named
// by the SHA-256 of its content; such a blob's name is its ID, so a store
// of format 2 is taken as it is (see "Format versions"). The ID has 256
// bits, not 128, because it takes the place of those names: the metadata,
// the Raft log's events, the snapshots and the peers' blob transfer keep
// their 32-byte field, and the data of a format-2 node needs no rewrite.
// Two writes of the same bytes are two blobs; a copy of an object
// (CopyObject) shares its source's blobs by reference.
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
// is repaired by committing a good one over it ([Store.CreateCopyOf]);
// package objects fetches it from a peer.
//
// # Format versions
//
// Format 3 names blobs by ID (see "Names"); its files are those of format
// 2, so Open takes a format-2 store by writing FORMAT again: nothing else
// changes, and a format-2 blob's name (its SHA-256) is its ID. An S4 of
// format 2 refuses a format-3 store (it would check copies of new blobs
// against a SHA-256 they are not named by).
//
// Format 1 (until the block trailer) kept the bare content in
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
// Paths are built only from IDs: the hex of a random ID the store chose
// itself, or of a [32]byte handed in by the caller. No object key, bucket name
// or other client input ever becomes part of a path, so nothing a client sends
// can make the store touch a file outside dir.
//
// # Writing
//
// [Store.Create] opens a temp file; the [Writer] hashes every byte (MD5 and
// CRC32C, in the same pass) as it writes it to the file, so a body is
// never held in memory beyond one 256 KiB chunk: whole chunks go to the file
// with direct I/O where the file system has it (direct.go), the rest
// through the page cache. [Store.Put] does Create, copy and Commit through
// one fixed-size buffer (256 KiB) and enforces a size limit without reading
// more than one byte past it.
//
// # Durability
//
// [Writer.Commit] appends the block trailer and makes the blob durable
// before it returns:
//
//  1. fsync of the temp file (data and size; for the chunks written with
//     direct I/O it also flushes the device's write cache);
//  2. rename of the temp file to dir/blocks/ab/<hex>;
//  3. fsync of dir/blocks/ab, which makes the new name durable.
//
// A new blob's random ID names no existing file. A copy's ID may (a copy a
// peer sends twice, a repair): the rename then replaces the old file
// atomically; the new one was checked a moment ago, the old one may have
// rotted since (a reader keeps the file it opened). The directory is
// fsynced either way, so that Commit never returns before the blob's name
// is durable.
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
// after its data was fsynced, so it is always complete and its trailer's
// CRC32Cs are those of its content: computed here as the bytes were
// written, and for a copy ([Store.CreateCopyOf]) also equal to the CRC32C
// computed where the bytes entered the cluster (see "Copies" below). A blob whose Commit had not returned may or may not be present
// after the crash; a blob whose Remove had not returned may still be present
// and is then simply garbage again.
//
// # Copies
//
// A blob that another node of the cluster already holds (a PUT's copy to
// its peers, a fetch of a blob this node lacks, a repair of a corrupt one)
// is written through [Store.CreateCopyOf], which takes the [Ref] the other
// node gave (ID, size, CRC32C) and checks the copy against its size and
// CRC32C only, computing no MD5, then commits it under that ID. A PUT's
// copy carries the CRC32C computed where the bytes entered the cluster; a
// fetch carries the one in the sending node's trailer, whose blocks that
// node verified before it sent a byte of them. The copy travels over
// mutually authenticated TLS (AES-GCM, integrity-checked), and the CRC32C
// catches what TLS cannot: a framing bug, or a blob that changed on the
// sender's disk between its checks and the copy. It costs ~0.1 ms per MiB.
//
// # Pins and removal
//
// Blobs are referenced by object metadata that lives elsewhere (the Raft log
// and the FSM's metadata store), so removing an unreferenced blob races with a
// PUT that is about to reference it. Pins close that race. The protocol:
//
//   - A writer pins the ID before it proposes the metadata event and unpins
//     after its own FSM applied it (or after the proposal failed). Use
//     [Store.PutPinned] or [Writer.CommitPinned], which take the pin under the
//     same lock as the commit itself, so that there is no moment at which the
//     freshly committed blob is neither pinned nor
//     referenced. [Store.Pin] pins an ID known in advance.
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
// [Store.CreateCopyOf]: its Commit renames the good copy over the bad one,
// so the blob never disappears and pins do not stand in the way.
//
// # Files
//
//	doc.go     this overview
//	blob.go    Store, Writer: create, commit, open, pins, remove, walk
//	block.go   the block trailer: its format, its parser, the block CRCs
//	reader.go  Reader: reads verified block by block
//	format.go  the FORMAT file and the migrations from formats 1 and 2
//	direct.go  direct writes: content in aligned 256 KiB chunks with O_DIRECT
//	           (direct_linux.go; direct_other.go elsewhere: never)
package blob

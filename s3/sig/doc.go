// Package sig decides whether an S3 request is what its signer sent: the
// signature over the request (SigV4 in the Authorization header or a
// presigned URL, SigV2 likewise) and everything that extends it to the
// body (the signed payload hash, the aws-chunked chunk and trailer
// signatures chained from the request's, the x-amz-checksum-* checksums
// and Content-MD5 that the same pass verifies).
//
// The name: what the package owns is the signature and what it covers.
// Checksums live here too, although a checksum is not a signature, because
// a trailer checksum is part of the signed aws-chunked body, and a body is
// verified (hash, checksum, Content-MD5) in one pass by one reader. Call
// sites read sig.Verifier, sig.ChunkedReader, sig.OpenPayload. Failures
// are S3 errors (package s3err); sig knows nothing of buckets, objects or
// the auth index.
//
// Files: auth.go (the request's credential: SignedRequest, RequestAuth,
// ParseRequestAuth), auth_query.go (the raw query string and the presigned
// parameters), sigv4.go (Verifier, VerifyV4, the canonical request),
// sigv4_key.go (signing keys and their cache), sigv4_chunk.go (chunk and
// trailer signatures), sigv2.go (VerifyV2), chunked.go (the aws-chunked
// decoder), checksum.go (the checksum algorithms, Content-MD5), payload.go
// (a request body as it was signed: OpenPayload, Payload.Verify).
//
// # Authentication model
//
// Every S3 request is authenticated against the node's in-memory auth index (access
// key → principal and secret), which the Raft FSM keeps current. Authentication is a
// pure function of the request and the index entry, split in three steps so the
// caller (package s3's handler) can look the key up in between:
//
//  1. Parse. ParseRequestAuth finds the credential: the Authorization header
//     (ParseAuthorization: SigV4 "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
//     Signature=…" or SigV2 "AWS AK:sig") or presigned-URL parameters
//     (ParsePresignedQuery: X-Amz-* for SigV4, AWSAccessKeyId/Expires/Signature for
//     SigV2). Malformed input fails here, before any lookup, with the S3 error S3
//     gives (AuthorizationHeaderMalformed, AuthorizationQueryParametersError, …).
//     A request with no credential is AuthAnonymous; S4 answers it AccessDenied.
//  2. Look up. The caller looks RequestAuth.AccessKey up in the auth index. An
//     unknown, revoked or replaced key is InvalidAccessKeyId; a deactivated user
//     AccessDenied. This is where revocation takes effect: once the index no longer
//     holds a key, nothing below can accept it.
//  3. Verify. Verifier.VerifyV4 / VerifyV2 recompute the signature with the secret
//     from the index and compare in constant time (hmac.Equal). They check the time
//     (RequestTimeTooSkewed past 15 minutes for header-signed requests; AccessDenied
//     "Request has expired" for a presigned URL past X-Amz-Expires, at most 7 days, or
//     past Expires for SigV2) and the payload mode (x-amz-content-sha256).
//
// Then the role decides what the principal may do (docs/DESIGN.md "Roles").
//
// What is signed is taken from the request exactly as it arrived: the path as sent
// (fasthttp URI().PathOriginal(); S3 neither decodes nor normalises it, and does not
// double-encode), the raw query string parsed here (never fasthttp QueryArgs, which
// turns '+' into a space) and re-encoded per RFC 3986, and exactly the headers named
// in SignedHeaders, which must include host. Nothing is normalised before
// verification, so "//", "../" and %2F in object keys reach the handler as signed.
//
// # The body
//
// A verified request is authentic up to its body. V4Result says how the body is
// protected: PayloadSHA256 (the body's SHA-256 is compared before anything is
// committed), PayloadUnsigned (UNSIGNED-PAYLOAD, presigned URLs), or
// PayloadChunked (aws-chunked; the ChunkedReader checks chunk signatures with
// V4Result.SignChunk/SignTrailer, which chain from the request signature with the
// scope's signing key, and the trailer checksum). OpenPayload puts the body
// behind the right reader and hashes; Payload.CopyTo streams it; Payload.Verify
// then checks the signed hash, Content-MD5 and the checksum header or trailer,
// and gives the checksum to store. Bytes read before Verify passed are not to be
// trusted (chunked.go says why): the caller writes them to a temporary blob and
// commits it only afterwards.
//
// # Cost
//
// Verification is on every request's path, so it allocates nothing in the
// steady state beyond the parsed credential: the canonical request is built in a
// pooled buffer, the query is sorted in place, headers are read through
// HeaderSource (which *fasthttp.RequestHeader implements) without copying, and
// signing keys come from a bounded, lock-free cache keyed by (access key, scope).
// A cache entry holds the SHA-256 states after the HMAC pads, so signing the string
// to sign costs four block compressions. Entries are bound to the secret they were
// derived from, so a stale entry can never authenticate a request: the cache is an
// optimisation only, and Verifier.Forget merely drops a revoked key's material early.
//
// # SigV2
//
// SigV2 is supported because `aws s3 presign` and boto3 generate_presigned_url
// produce SigV2 URLs by default in us-east-1 and the other legacy regions. Its
// canonical resource follows botocore (HmacV1Auth): the raw path plus the
// sub-resources botocore signs, sorted, values decoded.
package sig

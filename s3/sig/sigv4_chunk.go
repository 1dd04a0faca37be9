package sig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// ChunkSignature is the signature of one aws-chunked chunk
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]): HMAC-SHA256 with the request's
// signing key over
//
//	AWS4-HMAC-SHA256-PAYLOAD\n<amzDate>\n<scope>\n<prev>\n<sha256("")>\n<chunkSHA256>
//
// (hashes and prev in hex). prev is the previous chunk's signature, the seed
// (V4Result.Signature) for the first chunk; the final, empty chunk is signed too.
// amzDate, scope and key come from V4Result (AmzDate, Scope, SigningKey). Compare
// with Signature.Equal.
func ChunkSignature(key *SigningKey, amzDate, scope string, prev Signature, chunkSHA256 [sha256.Size]byte) Signature {
	return streamSignature(key, "AWS4-HMAC-SHA256-PAYLOAD\n", amzDate, scope, prev, v4EmptySHA256Hex, chunkSHA256)
}

// TrailerSignature is the x-amz-trailer-signature of a
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER body: HMAC-SHA256 over
//
//	AWS4-HMAC-SHA256-TRAILER\n<amzDate>\n<scope>\n<prev>\n<trailerSHA256>
//
// where prev is the final chunk's signature and trailerSHA256 the SHA-256 of the
// trailer lines, each "name:value\n".
func TrailerSignature(key *SigningKey, amzDate, scope string, prev Signature, trailerSHA256 [sha256.Size]byte) Signature {
	return streamSignature(key, "AWS4-HMAC-SHA256-TRAILER\n", amzDate, scope, prev, "", trailerSHA256)
}

// v4EmptySHA256Hex is hex(sha256("")), the hash of the (absent) chunk headers.
const v4EmptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func streamSignature(key *SigningKey, algorithm, amzDate, scope string, prev Signature, extra string, sum [sha256.Size]byte) Signature {
	b := make([]byte, 0, 256)
	b = append(b, algorithm...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, prev[:])
	b = append(b, '\n')
	if extra != "" {
		b = append(b, extra...)
		b = append(b, '\n')
	}
	b = hex.AppendEncode(b, sum[:])
	m := hmac.New(sha256.New, key[:])
	m.Write(b)
	var sig Signature
	m.Sum(sig[:0])
	return sig
}

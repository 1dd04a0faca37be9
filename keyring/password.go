package keyring

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Password hashes are argon2id with the parameters below (OWASP's minimum
// recommendation). The encoding is self-describing so that the parameters
// can be raised later while old hashes keep verifying:
//
//	byte 0      format version (1)
//	bytes 1-4   memory in KiB, big endian
//	bytes 5-8   iterations, big endian
//	byte 9      parallelism
//	byte 10     salt length n
//	n bytes     salt
//	the rest    hash (its length is the key length)
const (
	hashVersion = 1
	hashMemory  = 19456 // KiB
	hashTime    = 2
	hashThreads = 1
	hashSaltLen = 16
	hashKeyLen  = 32
	hashHeader  = 11
)

// Bounds VerifyPassword accepts, so that a corrupt or hostile encoding cannot
// make it allocate gigabytes or spin for minutes.
const (
	maxHashMemory  = 256 << 10 // KiB, 256 MiB
	maxHashTime    = 16
	maxHashThreads = 16
	minHashSaltLen = 8
	minHashKeyLen  = 16
	maxHashKeyLen  = 64
)

// HashPassword hashes password with argon2id and a fresh random salt.
func HashPassword(password string) ([]byte, error) {
	out := make([]byte, hashHeader+hashSaltLen, hashHeader+hashSaltLen+hashKeyLen)
	out[0] = hashVersion
	binary.BigEndian.PutUint32(out[1:], hashMemory)
	binary.BigEndian.PutUint32(out[5:], hashTime)
	out[9] = hashThreads
	out[10] = hashSaltLen
	salt := out[hashHeader:]
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("keyring: hash password: %w", err)
	}
	return append(out, argon2.IDKey([]byte(password), salt, hashTime, hashMemory, hashThreads, hashKeyLen)...), nil
}

// VerifyPassword reports whether password matches encoded (from
// HashPassword), comparing in constant time. A malformed encoding, or one
// whose parameters are out of bounds, yields false.
func VerifyPassword(encoded []byte, password string) bool {
	if len(encoded) < hashHeader || encoded[0] != hashVersion {
		return false
	}
	memory := binary.BigEndian.Uint32(encoded[1:])
	time := binary.BigEndian.Uint32(encoded[5:])
	threads := encoded[9]
	saltLen := int(encoded[10])
	if memory < 8*uint32(threads) || memory > maxHashMemory ||
		time < 1 || time > maxHashTime ||
		threads < 1 || threads > maxHashThreads ||
		saltLen < minHashSaltLen || len(encoded) < hashHeader+saltLen {
		return false
	}
	salt := encoded[hashHeader : hashHeader+saltLen]
	want := encoded[hashHeader+saltLen:]
	if len(want) < minHashKeyLen || len(want) > maxHashKeyLen {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, time, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

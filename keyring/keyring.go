// Package keyring owns S4's secrets: the cluster key and what is derived
// from it with HKDF (S3-secret sealing, JWT signing, the inter-node TLS
// identity), password hashing, and the generation of access keys, secret
// keys and IDs. It is a package of its own because every other package needs
// a piece of it and none of them owns the cluster key.
package keyring

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/crypto/hkdf"
)

// ClusterKeySize is the size of the cluster key in bytes.
const ClusterKeySize = 32

// ClusterKey is the secret shared by every node of a cluster. Every other
// key is derived from it (see Derive). It never prints its bytes: String,
// GoString and Format all yield "ClusterKey(redacted)".
type ClusterKey [ClusterKeySize]byte

const redactedClusterKey = "ClusterKey(redacted)"

func (ClusterKey) String() string   { return redactedClusterKey }
func (ClusterKey) GoString() string { return redactedClusterKey }

// Format redacts the key for every verb, including %x and %d.
func (ClusterKey) Format(f fmt.State, _ rune) { io.WriteString(f, redactedClusterKey) }

// GenerateClusterKey returns a fresh random cluster key.
func GenerateClusterKey() (ClusterKey, error) {
	var k ClusterKey
	if _, err := rand.Read(k[:]); err != nil {
		return ClusterKey{}, fmt.Errorf("keyring: generate cluster key: %w", err)
	}
	return k, nil
}

// ParseClusterKey parses the text form of a cluster key: 64 hex digits,
// surrounding whitespace ignored. Errors never quote the input.
func ParseClusterKey(text []byte) (ClusterKey, error) {
	text = bytes.TrimSpace(text)
	var k ClusterKey
	if len(text) != 2*ClusterKeySize {
		return k, fmt.Errorf("keyring: cluster key must be %d hex digits, got %d characters", 2*ClusterKeySize, len(text))
	}
	if _, err := hex.Decode(k[:], text); err != nil {
		return ClusterKey{}, errors.New("keyring: cluster key must be hex digits only (0-9, a-f)")
	}
	return k, nil
}

// WriteClusterKeyFile writes k as hex plus a newline to a new file of mode
// 0600 and syncs it. It fails if path already exists: a cluster key is never
// overwritten.
func WriteClusterKeyFile(path string, k ClusterKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keyring: write cluster key: %w", err)
	}
	buf := make([]byte, 2*ClusterKeySize+1)
	hex.Encode(buf, k[:])
	buf[len(buf)-1] = '\n'
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("keyring: write cluster key: %w", err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// ReadClusterKeyFile reads a cluster key written by WriteClusterKeyFile (or
// by hand: any 64 hex digits with surrounding whitespace).
func ReadClusterKeyFile(path string) (ClusterKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ClusterKey{}, fmt.Errorf("keyring: read cluster key: %w", err)
	}
	k, err := ParseClusterKey(b)
	clear(b)
	if err != nil {
		return ClusterKey{}, fmt.Errorf("%w (file %s)", err, path)
	}
	return k, nil
}

// Keys are the sub-keys derived from the cluster key. They are identical on
// every node holding the same cluster key. Keys never prints its contents.
type Keys struct {
	SecretSeal [32]byte           // AES-256-GCM key that seals S3 secret keys in the log
	JWT        []byte             // 32-byte HS256 key for admin API tokens
	ClusterTLS ed25519.PrivateKey // inter-node TLS identity (see package transport)
}

const redactedKeys = "keyring.Keys(redacted)"

func (Keys) String() string             { return redactedKeys }
func (Keys) GoString() string           { return redactedKeys }
func (Keys) Format(f fmt.State, _ rune) { io.WriteString(f, redactedKeys) }

// HKDF info strings. Changing one changes the derived key on upgrade: never.
const (
	infoSecretSeal = "s4 s3-secret v1"
	infoJWT        = "s4 jwt v1"
	infoClusterTLS = "s4 cluster-tls v1"
)

// Derive derives the sub-keys with HKDF-SHA256, one info string per key, so
// that no sub-key reveals anything about another or about the cluster key.
func (k ClusterKey) Derive() *Keys {
	var ks Keys
	derive(k, infoSecretSeal, ks.SecretSeal[:])
	ks.JWT = make([]byte, 32)
	derive(k, infoJWT, ks.JWT)
	seed := make([]byte, ed25519.SeedSize)
	derive(k, infoClusterTLS, seed)
	ks.ClusterTLS = ed25519.NewKeyFromSeed(seed)
	clear(seed)
	return &ks
}

func derive(k ClusterKey, info string, out []byte) {
	// The cluster key is uniformly random, so no salt is needed (RFC 5869 §3.1).
	if _, err := io.ReadFull(hkdf.New(sha256.New, k[:], nil, []byte(info)), out); err != nil {
		panic("keyring: hkdf: " + err.Error()) // only for outputs > 255*32 bytes
	}
}

// syncDir makes a create or rename in dir durable. Best effort: some
// platforms and file systems cannot sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

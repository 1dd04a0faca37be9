package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// ErrOpen is returned by Sealer.Open for any sealed value that does not
// authenticate: tampered, truncated, sealed under another key or for another
// access key.
var ErrOpen = errors.New("keyring: sealed secret does not authenticate")

// Sealer seals S3 secret keys with AES-256-GCM so that they can travel in the
// Raft log. The access key is the associated data: a sealed secret moved to
// another access key does not open. A Sealer is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for key (Keys.SecretSeal).
func NewSealer(key [32]byte) *Sealer {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic("keyring: aes: " + err.Error()) // impossible for a 32-byte key
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("keyring: gcm: " + err.Error())
	}
	return &Sealer{aead: aead}
}

// Seal returns nonce || AES-256-GCM(secret), with a random 12-byte nonce and
// accessKey as associated data. Random nonces are safe far beyond the number
// of credentials a cluster issues (2^32 seals per key).
func (s *Sealer) Seal(secret, accessKey string) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(secret)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("keyring: seal: %w", err)
	}
	return s.aead.Seal(out, out, []byte(secret), []byte(accessKey)), nil
}

// Open reverses Seal. It returns ErrOpen for anything that does not
// authenticate and never panics.
func (s *Sealer) Open(sealed []byte, accessKey string) (string, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return "", ErrOpen
	}
	plain, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(accessKey))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}

package sig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync/atomic"
)

// SigningKey is a SigV4 signing key: HMAC chain of the secret over the scope's date,
// region, service and "aws4_request".
type SigningKey [sha256.Size]byte

// Signature is a SigV4 signature (request, chunk or trailer).
type Signature [sha256.Size]byte

// String returns the lower-case hex form that appears on the wire.
func (s Signature) String() string { return hex.EncodeToString(s[:]) }

// Equal compares in constant time.
func (s Signature) Equal(o Signature) bool { return hmac.Equal(s[:], o[:]) }

// ParseSignature decodes a 64-digit hex signature.
func ParseSignature(h []byte) (Signature, bool) {
	var s Signature
	if len(h) != 2*len(s) {
		return s, false
	}
	_, err := hex.Decode(s[:], h)
	return s, err == nil
}

// DeriveSigningKey computes the SigV4 signing key of secret for a scope date
// (yyyymmdd), region and service.
func DeriveSigningKey(secret, date, region, service string) SigningKey {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	var key SigningKey
	copy(key[:], hmacSHA256(k, v4Terminator))
	return key
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKeyEntry is a cached signing key with its HMAC pads already absorbed: inner and
// outer are SHA-256 states after key⊕ipad and key⊕opad, so signing a string costs
// two fewer block compressions than crypto/hmac. The entry is bound to the secret
// it was derived from: a different secret for the same access key misses.
type signingKeyEntry struct {
	accessKey, scope, secret string
	key                      SigningKey
	inner, outer             []byte
}

func newSigningKeyEntry(accessKey, scope, secret string) *signingKeyEntry {
	date, rest, _ := strings.Cut(scope, "/")
	region, _, _ := strings.Cut(rest, "/")
	e := &signingKeyEntry{
		accessKey: strings.Clone(accessKey), scope: strings.Clone(scope), secret: secret,
		key: DeriveSigningKey(secret, date, region, v4Service),
	}
	var pad [sha256.BlockSize]byte
	state := func(x byte) []byte {
		for i := range pad {
			pad[i] = x
		}
		for i, b := range e.key {
			pad[i] ^= b
		}
		h := sha256.New()
		h.Write(pad[:])
		b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			panic("s3: sha256 state is not marshalable: " + err.Error())
		}
		return b
	}
	e.inner, e.outer = state(0x36), state(0x5c)
	return e
}

// mac returns HMAC-SHA256(k.key, msg) using the absorbed pads.
func (s *authScratch) mac(k *signingKeyEntry, msg []byte) Signature {
	_ = s.hu.UnmarshalBinary(k.inner) // a state from MarshalBinary always unmarshals
	s.h.Write(msg)
	inner := s.h.Sum(s.sum[:0])
	_ = s.hu.UnmarshalBinary(k.outer)
	s.h.Write(inner)
	var sig Signature
	copy(sig[:], s.h.Sum(s.sum[:0]))
	return sig
}

// signingKeyCache is a direct-mapped cache of signing keys keyed by (access key, scope).
// Readers never lock: each slot is an atomic pointer to an immutable entry, and a
// miss derives a fresh entry and stores it over whatever held the slot. Its size is
// fixed, so memory is bounded whatever keys and dates requests bring.
type signingKeyCache struct {
	seed  maphash.Seed
	slots []atomic.Pointer[signingKeyEntry]
}

func (c *signingKeyCache) init(size int) {
	if size <= 0 {
		size = 1024
	}
	c.seed = maphash.MakeSeed()
	c.slots = make([]atomic.Pointer[signingKeyEntry], 1<<bits.Len(uint(size-1)))
}

func (c *signingKeyCache) slot(accessKey, scope string) *atomic.Pointer[signingKeyEntry] {
	h := maphash.String(c.seed, accessKey) ^ bits.RotateLeft64(maphash.String(c.seed, scope), 31)
	return &c.slots[h&uint64(len(c.slots)-1)]
}

// get returns the entry for (accessKey, scope) derived from secret.
func (c *signingKeyCache) get(accessKey, scope, secret string) *signingKeyEntry {
	p := c.slot(accessKey, scope)
	if e := p.Load(); e != nil && e.accessKey == accessKey && e.scope == scope && e.secret == secret {
		return e
	}
	e := newSigningKeyEntry(accessKey, scope, secret)
	p.Store(e)
	return e
}

// forget clears every slot holding accessKey.
func (c *signingKeyCache) forget(accessKey string) {
	for i := range c.slots {
		if e := c.slots[i].Load(); e != nil && e.accessKey == accessKey {
			c.slots[i].CompareAndSwap(e, nil)
		}
	}
}

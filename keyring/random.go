package keyring

import (
	"crypto/rand"
	"encoding/hex"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// AccessKeyPrefix starts every access key NewAccessKey generates.
const AccessKeyPrefix = "S4AK"

// NewAccessKey returns "S4AK" followed by 20 random characters of [A-Za-z0-9].
func NewAccessKey() string { return AccessKeyPrefix + randomAlnum(20) }

// NewSecretKey returns 40 random characters of [A-Za-z0-9] (~238 bits).
func NewSecretKey() string { return randomAlnum(40) }

// RandomPassword returns 24 random characters of [A-Za-z0-9] (~143 bits).
func RandomPassword() string { return randomAlnum(24) }

// NewID returns a random (version 4) UUID in its canonical text form.
func NewID() string {
	var u [16]byte
	rand.Read(u[:])         // never fails (crypto/rand, Go ≥ 1.24)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10 (RFC 9562)
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// randomAlnum returns n characters drawn uniformly from alnum. Bytes at or
// above 248 (the largest multiple of 62 that fits a byte) are rejected, so
// that b%62 is unbiased.
func randomAlnum(n int) string {
	const limit = 256 - 256%len(alnum) // 248
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:]) // never fails (crypto/rand, Go ≥ 1.24)
		for _, b := range buf {
			if int(b) < limit {
				out = append(out, alnum[int(b)%len(alnum)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

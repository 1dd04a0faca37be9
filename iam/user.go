package iam

import "unsafe"

// User is one IAM user. A *User reachable from a State is immutable: a
// transition replaces users, it never changes one in place, so the S3
// handler may keep a *User for the length of a request without a lock. Do
// not write through PasswordHash either: its bytes share a block with the
// user's other fields.
type User struct {
	ID           string
	Username     string
	PasswordHash []byte
	Role         Role
	Active       bool
	Root         bool
	secretLen    uint32 // sits in the padding after the flags
	CreatedAt    int64  // Unix nanoseconds, stamped by the proposer
	UpdatedAt    int64
	// Generation increases with every change of password, role or active
	// flag; admin tokens carry it and die when it moves.
	Generation uint64
	AccessKey  string // "" when the user has no credential
	secret     *byte  // the unsealed S3 secret key, secretLen bytes
}

// The struct stays in the 112-byte size class (a string for the secret
// would push it to 128): a million users, 16 MB.
var _ [112 - unsafe.Sizeof(User{})]struct{}

// Secret returns the user's S3 secret key ("" when it has none). It exists
// for the SigV4 verifier; never log or persist it.
func (u *User) Secret() string { return unsafe.String(u.secret, u.secretLen) }

// setSecret makes s the user's secret (it is copied by packed).
func (u *User) setSecret(s string) {
	u.secret, u.secretLen = nil, 0
	if s != "" {
		u.secret, u.secretLen = unsafe.StringData(s), uint32(len(s))
	}
}

// secretKeyLen is the length of the secrets that the admin API generates.
const secretKeyLen = 40

// credUser is how a user with a credential is allocated: the access key and
// the secret, which every S3 request reads, follow the struct in the same
// 176-byte object (a size class, so nothing is wasted) and share its cache
// lines, so the auth check costs one miss less.
type credUser struct {
	User
	cred [accessKeyLen + secretKeyLen]byte
}

var _ [176 - unsafe.Sizeof(credUser{})]struct{}

// packed returns a copy of u for publication in a State: the access key and
// secret in a credUser when they fit, the other strings and the password hash
// in one block, all from a (fresh allocations when a is nil). With a million
// users, separate small allocations and their size-class rounding would be
// most of the heap. Nothing writes this memory afterwards except through
// PasswordHash, whose capacity ends at its length, so the strings made over
// it stay immutable.
func (u *User) packed(a *arena) *User {
	secret := u.Secret()
	other := len(u.ID) + len(u.Username) + len(u.PasswordHash)
	var v *User
	var cred, rest []byte
	dst := &rest // where the access key and secret go
	if u.AccessKey != "" && len(u.AccessKey)+len(secret) <= len(credUser{}.cred) {
		c := a.newCredUser()
		v, cred, rest = &c.User, c.cred[:], a.alloc(other)
		dst = &cred
	} else {
		v, rest = new(User), a.alloc(other+len(u.AccessKey)+len(secret))
	}
	*v = *u
	put := func(b *[]byte, s string) string {
		if s == "" {
			return ""
		}
		n := copy(*b, s)
		p := unsafe.String(&(*b)[0], n)
		*b = (*b)[n:]
		return p
	}
	v.AccessKey = put(dst, u.AccessKey)
	v.setSecret(put(dst, secret))
	v.ID = put(&rest, u.ID)
	v.Username = put(&rest, u.Username)
	if n := len(u.PasswordHash); n > 0 {
		copy(rest, u.PasswordHash)
		v.PasswordHash = rest[:n:n]
	} else {
		v.PasswordHash = u.PasswordHash[:0:0] // nil stays nil
	}
	return v
}

// arena hands out memory in 64 KiB chunks so that a bulk build (restore)
// packs users at their exact size. A chunk lives while any user packed into
// it does, so the waste it can cause is bounded by the size of the restore
// that filled it. A nil *arena allocates each piece on its own.
type arena struct {
	bytes []byte
	creds []credUser
}

const arenaChunk = 64 << 10

func (a *arena) alloc(n int) []byte {
	if a == nil || n > arenaChunk/16 {
		return make([]byte, n)
	}
	if len(a.bytes) < n {
		a.bytes = make([]byte, arenaChunk)
	}
	b := a.bytes[:n:n]
	a.bytes = a.bytes[n:]
	return b
}

func (a *arena) newCredUser() *credUser {
	if a == nil {
		return new(credUser)
	}
	if len(a.creds) == 0 {
		a.creds = make([]credUser, arenaChunk/unsafe.Sizeof(credUser{}))
	}
	c := &a.creds[0]
	a.creds = a.creds[1:]
	return c
}

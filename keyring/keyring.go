// Package keyring owns S4's secrets: the cluster key and what is derived
// from it with HKDF (S3-secret sealing, JWT signing, the inter-node TLS
// identity), password hashing, and the generation of access keys, secret
// keys and IDs. It is a package of its own because every other package needs
// a piece of it and none of them owns the cluster key.
package keyring

package keyring

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func mustClusterKey(t testing.TB) ClusterKey {
	t.Helper()
	k, err := GenerateClusterKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDeriveDeterministicAndDistinct(t *testing.T) {
	k := mustClusterKey(t)
	a, b := k.Derive(), k.Derive()
	if a.SecretSeal != b.SecretSeal || !bytes.Equal(a.JWT, b.JWT) || !a.ClusterTLS.Equal(b.ClusterTLS) {
		t.Fatal("Derive is not deterministic")
	}
	if len(a.JWT) != 32 || len(a.ClusterTLS) != ed25519.PrivateKeySize {
		t.Fatalf("sizes: jwt %d, tls %d", len(a.JWT), len(a.ClusterTLS))
	}
	seed := a.ClusterTLS.Seed()
	keys := [][]byte{k[:], a.SecretSeal[:], a.JWT, seed}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if bytes.Equal(keys[i], keys[j]) {
				t.Fatalf("keys %d and %d are equal", i, j)
			}
		}
	}
	other := mustClusterKey(t).Derive()
	if other.SecretSeal == a.SecretSeal || bytes.Equal(other.JWT, a.JWT) || other.ClusterTLS.Equal(a.ClusterTLS) {
		t.Fatal("different cluster keys derive equal sub-keys")
	}
}

// A fixed vector pins the derivation: changing it would lock every existing
// cluster out of its own sealed secrets.
func TestDeriveVector(t *testing.T) {
	var k ClusterKey
	for i := range k {
		k[i] = byte(i)
	}
	ks := k.Derive()
	got := fmt.Sprintf("%x %x %x", ks.SecretSeal[:], ks.JWT, ks.ClusterTLS.Seed())
	if got != deriveVector {
		t.Fatalf("derivation changed:\n got %s\nwant %s", got, deriveVector)
	}
}

// Computed independently from RFC 5869 (HMAC-SHA256, empty salt, L=32).
const deriveVector = "8ed37d44c20272e449e65661c4dd1bc44b4a9ac8436eb60f654771f0b5207c86 " +
	"f565be30c4154fabe40abcc16c6bd1d97a6676e1695c47e399ee4137d13279a5 " +
	"d0a4768bd7a09263027e588c38f77fa276551c8cbe47db999b7f8960153aeed0"

func TestClusterKeyNeverPrints(t *testing.T) {
	var k ClusterKey
	for i := range k {
		k[i] = 0xab
	}
	ks := k.Derive()
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%x", "%X", "%d", "%q"} {
		for _, v := range []any{k, &k, ks, *ks, []ClusterKey{k}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171") {
				t.Errorf("%s of %T prints key bytes: %s", verb, v, out)
			}
			if !strings.Contains(out, "redacted") {
				t.Errorf("%s of %T: %s", verb, v, out)
			}
		}
	}
}

func TestParseClusterKey(t *testing.T) {
	k := mustClusterKey(t)
	text := fmt.Sprintf("%x", k[:])
	for _, in := range []string{text, " \n" + text + "\n", strings.ToUpper(text)} {
		got, err := ParseClusterKey([]byte(in))
		if err != nil || got != k {
			t.Fatalf("ParseClusterKey(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", text[:62], text + "00", strings.Repeat("g", 64), text[:32] + " " + text[33:], "0x" + text[2:]} {
		_, err := ParseClusterKey([]byte(in))
		if err == nil {
			t.Fatalf("ParseClusterKey(%q) accepted", in)
		}
		if len(in) > 8 && strings.Contains(err.Error(), in[:8]) {
			t.Fatalf("error quotes the input: %v", err)
		}
	}
}

func TestClusterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.key")
	k := mustClusterKey(t)
	if err := WriteClusterKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if want := fmt.Sprintf("%x\n", k[:]); string(b) != want {
		t.Fatalf("file content %q", b)
	}
	got, err := ReadClusterKeyFile(path)
	if err != nil || got != k {
		t.Fatalf("ReadClusterKeyFile: %v", err)
	}
	err = WriteClusterKeyFile(path, mustClusterKey(t))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwrite: err = %v, want ErrExist", err)
	}
	if got, _ := ReadClusterKeyFile(path); got != k {
		t.Fatal("existing key file was changed")
	}
	if _, err := ReadClusterKeyFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSealOpen(t *testing.T) {
	s := NewSealer(mustClusterKey(t).Derive().SecretSeal)
	secret, ak := NewSecretKey(), NewAccessKey()
	sealed, err := s.Seal(secret, ak)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(secret)) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := s.Open(sealed, ak)
	if err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := s.Seal(secret, ak)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals are identical: nonce not random")
	}

	for i := range len(sealed) * 8 {
		bad := bytes.Clone(sealed)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := s.Open(bad, ak); !errors.Is(err, ErrOpen) {
			t.Fatalf("bit %d flipped: err = %v", i, err)
		}
	}
	for n := range len(sealed) {
		if _, err := s.Open(sealed[:n], ak); !errors.Is(err, ErrOpen) {
			t.Fatalf("truncated to %d: err = %v", n, err)
		}
	}
	if _, err := s.Open(sealed, NewAccessKey()); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong access key: err = %v", err)
	}
	other := NewSealer(mustClusterKey(t).Derive().SecretSeal)
	if _, err := other.Open(sealed, ak); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong cluster key: err = %v", err)
	}
	if _, err := s.Open(append(bytes.Clone(sealed), 0), ak); !errors.Is(err, ErrOpen) {
		t.Fatalf("extended: err = %v", err)
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != hashHeader+hashSaltLen+hashKeyLen {
		t.Fatalf("encoded length %d", len(h))
	}
	if !VerifyPassword(h, "correct horse") {
		t.Fatal("right password rejected")
	}
	for _, pw := range []string{"", "correct horse ", "Correct horse", "correct hors"} {
		if VerifyPassword(h, pw) {
			t.Fatalf("wrong password %q accepted", pw)
		}
	}
	h2, _ := HashPassword("correct horse")
	if bytes.Equal(h, h2) {
		t.Fatal("two hashes are identical: salt not random")
	}
	if !VerifyPassword(h2, "correct horse") {
		t.Fatal("second hash rejected")
	}
}

// Hashes made with other parameters still verify: the encoding carries them.
func TestVerifyPasswordOtherParams(t *testing.T) {
	enc := encodeHash(t, 1024, 3, 8, 24, "pw")
	if !VerifyPassword(enc, "pw") || VerifyPassword(enc, "pW") {
		t.Fatal("hash with other parameters does not verify correctly")
	}
}

func encodeHash(t testing.TB, memory, time uint32, saltLen, keyLen int, pw string) []byte {
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	salt := h[hashHeader : hashHeader+saltLen]
	enc := []byte{hashVersion, byte(memory >> 24), byte(memory >> 16), byte(memory >> 8), byte(memory),
		byte(time >> 24), byte(time >> 16), byte(time >> 8), byte(time), 1, byte(saltLen)}
	enc = append(enc, salt...)
	return append(enc, argon2.IDKey([]byte(pw), salt, time, memory, 1, uint32(keyLen))...)
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good, _ := HashPassword("pw")
	cases := map[string][]byte{
		"nil":          nil,
		"empty":        {},
		"header only":  good[:hashHeader],
		"no hash":      good[:hashHeader+hashSaltLen],
		"short hash":   good[:len(good)-17],
		"version 0":    append([]byte{0}, good[1:]...),
		"version 2":    append([]byte{2}, good[1:]...),
		"huge memory":  patch(good, 1, 0xff, 0xff, 0xff, 0xff),
		"zero time":    patch(good, 5, 0, 0, 0, 0),
		"huge time":    patch(good, 5, 0xff, 0xff, 0xff, 0xff),
		"zero threads": patch(good, 9, 0),
		"salt overrun": patch(good, 10, 255),
		"tiny salt":    patch(good, 10, 0),
		"appended":     append(bytes.Clone(good), 0),
	}
	for name, enc := range cases {
		if VerifyPassword(enc, "pw") {
			t.Errorf("%s: accepted", name)
		}
	}
}

func patch(b []byte, at int, v ...byte) []byte {
	b = bytes.Clone(b)
	copy(b[at:], v)
	return b
}

var (
	accessKeyRE = regexp.MustCompile(`^S4AK[A-Za-z0-9]{20}$`)
	secretKeyRE = regexp.MustCompile(`^[A-Za-z0-9]{40}$`)
	passwordRE  = regexp.MustCompile(`^[A-Za-z0-9]{24}$`)
	uuidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func TestGeneratedFormats(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		for _, c := range []struct {
			re *regexp.Regexp
			s  string
		}{{accessKeyRE, NewAccessKey()}, {secretKeyRE, NewSecretKey()}, {passwordRE, RandomPassword()}, {uuidRE, NewID()}} {
			if !c.re.MatchString(c.s) {
				t.Fatalf("%q does not match %s", c.s, c.re)
			}
			if seen[c.s] {
				t.Fatalf("duplicate %q", c.s)
			}
			seen[c.s] = true
		}
	}
}

// Every character of the alphabet turns up about equally often. With 62
// symbols and 40*5000 draws each count is ~3226 ± 56 (1σ); a modulo bias
// (b%62 without rejection) would push 8 symbols ~3% high, and the bounds
// are ±8σ so that the test does not flake.
func TestRandomDistribution(t *testing.T) {
	counts := map[rune]int{}
	const n = 5000
	for range n {
		for _, r := range NewSecretKey() {
			counts[r]++
		}
	}
	if len(counts) != len(alnum) {
		t.Fatalf("%d distinct characters, want %d", len(counts), len(alnum))
	}
	mean := float64(n*40) / float64(len(alnum))
	for r, c := range counts {
		if d := float64(c) - mean; d > 8*56 || d < -8*56 {
			t.Errorf("%q drawn %d times, mean %.0f", r, c, mean)
		}
	}
}

func TestLoadOrCreateServerCert(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	c1, created, err := LoadOrCreateServerCert(certFile, keyFile, []string{"s4.example", "10.1.2.3", " ", "localhost"})
	if err != nil || !created {
		t.Fatalf("create: created=%v err=%v", created, err)
	}
	for file, want := range map[string]os.FileMode{certFile: 0o644, keyFile: 0o600} {
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", file, fi.Mode().Perm(), want)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(certFile)); len(ents) != 2 {
		t.Errorf("temporary files left: %v", ents)
	}

	c2, created, err := LoadOrCreateServerCert(certFile, keyFile, nil)
	if err != nil || created {
		t.Fatalf("reload: created=%v err=%v", created, err)
	}
	if !bytes.Equal(c1.Certificate[0], c2.Certificate[0]) {
		t.Fatal("reload returned a different certificate")
	}

	leaf, err := x509.ParseCertificate(c2.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.IsCA {
		t.Error("certificate is not a CA")
	}
	if y := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24 / 365; y < 9.9 || y > 10.1 {
		t.Errorf("validity %.1f years", y)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, host := range []string{"127.0.0.1", "localhost", "::1", "s4.example", "10.1.2.3"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: roots}); err == nil {
		t.Error("verified for a host not in the SANs")
	}
	if n := len(leaf.DNSNames) + len(leaf.IPAddresses); n != 5 {
		t.Errorf("%d SANs (%v %v), want 5", n, leaf.DNSNames, leaf.IPAddresses)
	}

	// A real handshake, as a client trusting the file would do it.
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pem)
	srv, cli := tlsPipe(t, &tls.Config{Certificates: []tls.Certificate{c2}}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	defer srv.Close()
	defer cli.Close()

	// Only one of the two files: regenerate both.
	os.Remove(keyFile)
	c3, created, err := LoadOrCreateServerCert(certFile, keyFile, nil)
	if err != nil || !created || bytes.Equal(c3.Certificate[0], c1.Certificate[0]) {
		t.Fatalf("regenerate: created=%v err=%v", created, err)
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealOpen(b *testing.B) {
	s := NewSealer(mustClusterKey(b).Derive().SecretSeal)
	secret, ak := NewSecretKey(), NewAccessKey()
	for b.Loop() {
		sealed, err := s.Seal(secret, ak)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Open(sealed, ak); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	s := NewSealer([32]byte{1})
	sealed, _ := s.Seal("secret", "S4AKEXAMPLE")
	f.Add(sealed, "S4AKEXAMPLE")
	f.Add([]byte{}, "")
	f.Add(sealed[:12], "S4AKEXAMPLE")
	f.Fuzz(func(t *testing.T, sealed []byte, ak string) {
		if _, err := s.Open(sealed, ak); err == nil && ak != "S4AKEXAMPLE" {
			t.Fatalf("forged value opened for %q", ak)
		}
	})
}

func FuzzVerifyPassword(f *testing.F) {
	good, _ := HashPassword("pw")
	f.Add(good, "pw")
	f.Add(good[:hashHeader], "")
	f.Add([]byte{1, 0, 0, 0, 8, 0, 0, 0, 1, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8}, "x")
	f.Fuzz(func(t *testing.T, enc []byte, pw string) {
		VerifyPassword(enc, pw)
	})
}

// tlsPipe completes a TLS handshake over loopback and returns both ends.
func tlsPipe(t *testing.T, srvCfg, cliCfg *tls.Config) (*tls.Conn, *tls.Conn) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			err = c.(*tls.Conn).Handshake()
		}
		ch <- res{c, err}
	}()
	cli, err := tls.Dial("tcp", ln.Addr().String(), cliCfg)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		cli.Close()
		t.Fatal(r.err)
	}
	return r.c.(*tls.Conn), cli
}

package iam

import (
	"crypto/sha256"
	"testing"
)

func TestScrapeTokens(t *testing.T) {
	x := newSt(t)
	h1, h2 := sha256.Sum256([]byte("token-1")), sha256.Sum256([]byte("token-2"))
	before := x.s
	x.ok(x.s.CreateScrapeToken("t1", "prometheus", h1, "u1", 5))
	if before.NumScrapeTokens() != 0 {
		t.Fatal("a transition changed the state it came from")
	}
	x.ok(x.s.CreateScrapeToken("t2", "", h2, "u1", 4))
	if tok, ok := x.s.ScrapeTokenByHash(h1); !ok || tok.ID != "t1" || tok.Name != "prometheus" || tok.CreatedBy != "u1" || tok.CreatedAt != 5 {
		t.Fatalf("by hash: %+v %v", tok, ok)
	}
	if tok, ok := x.s.ScrapeTokenByID("t2"); !ok || tok.Hash != h2 {
		t.Fatalf("by id: %+v %v", tok, ok)
	}
	if l := x.s.ScrapeTokens(); len(l) != 2 || l[0].ID != "t2" || l[1].ID != "t1" {
		t.Fatalf("list not by creation time: %+v", l)
	}
	for _, bad := range []struct {
		id   string
		hash [32]byte
	}{{"", h1}, {"t3", [32]byte{}}, {"t1", sha256.Sum256([]byte("other"))}, {"t3", h1}} {
		next, err := x.s.CreateScrapeToken(bad.id, "", bad.hash, "u1", 6)
		refused(t, next, isInvalid(err), errInvalidForTest)
	}
	withTwo := x.s
	x.ok(x.s.RevokeScrapeToken("t1"))
	if _, ok := x.s.ScrapeTokenByHash(h1); ok {
		t.Fatal("revoked token still found by its hash")
	}
	if _, ok := withTwo.ScrapeTokenByHash(h1); !ok {
		t.Fatal("revoking changed the earlier state")
	}
	if next, err := x.s.RevokeScrapeToken("t1"); err != nil || next != x.s {
		t.Fatal("revoking an unknown token is not a no-op")
	}
	x.ok(x.s.RevokeScrapeToken("t2"))
	if x.s.NumScrapeTokens() != 0 || len(x.s.ScrapeTokens()) != 0 {
		t.Fatal("tokens left")
	}
	// Users are untouched by token transitions, and the other way round.
	x.create("u1", "alice", RoleReader)
	x.ok(x.s.CreateScrapeToken("t3", "", h1, "u1", 7))
	if _, ok := x.s.UserByName("alice"); !ok || x.s.NumScrapeTokens() != 1 {
		t.Fatal("users and tokens interfere")
	}
}

func TestBuilderScrapeTokens(t *testing.T) {
	b := NewBuilder()
	h := sha256.Sum256([]byte("x"))
	b.AddScrapeToken(&ScrapeToken{ID: "t1", Hash: h, CreatedAt: 1})
	s, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	if tok, ok := s.ScrapeTokenByHash(h); !ok || tok.ID != "t1" {
		t.Fatal("builder lost the token")
	}
	b.AddScrapeToken(&ScrapeToken{ID: "t1", Hash: h})
	b.AddScrapeToken(&ScrapeToken{ID: "t2", Hash: h})
	if _, err := b.State(); err == nil {
		t.Fatal("builder took two tokens with one hash")
	}
}

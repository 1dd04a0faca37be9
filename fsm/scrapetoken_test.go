package fsm

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// TestScrapeTokenEvents: create and revoke reach their transitions, move
// the auth index, survive a snapshot (as their hash only), and are counted.
func TestScrapeTokenEvents(t *testing.T) {
	h := newMetaHarness(t)
	h.create("u1", "alice", 3)
	const token = "s4mt_never-in-a-snapshot-0123456789abcdefghij"
	sum := sha256.Sum256([]byte(token))
	h.mustApply(MsgScrapeTokenCreate, &ScrapeTokenCreate{ID: "t1", Name: "prom", Hash: sum[:], CreatedBy: "u1", At: 9})
	if h.f.AuthIndex() != h.idx {
		t.Fatalf("auth index %d after a token event at %d", h.f.AuthIndex(), h.idx)
	}
	wantErr(t, h.apply(MsgScrapeTokenCreate, &ScrapeTokenCreate{ID: "t2", Hash: sum[:4]}), ErrInvalidEvent)
	wantErr(t, h.apply(MsgScrapeTokenCreate, &ScrapeTokenCreate{ID: "t1", Hash: make([]byte, 32)}), ErrInvalidEvent)

	g := snapshotRoundTrip(t, h.f)
	tok, ok := g.State().ScrapeTokenByHash(sum)
	if !ok || tok.ID != "t1" || tok.Name != "prom" || tok.CreatedBy != "u1" || tok.CreatedAt != 9 {
		t.Fatalf("after restore: %+v %v", tok, ok)
	}
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, h.f.State(), h.f.AppliedIndex(), testSealer, nil); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(token)) || !bytes.Contains(buf.Bytes(), sum[:]) {
		t.Fatal("the snapshot holds the token, or not its hash")
	}

	h.mustApply(MsgScrapeTokenRevoke, &ScrapeTokenRevoke{ID: "t1", At: 10})
	h.mustApply(MsgScrapeTokenRevoke, &ScrapeTokenRevoke{ID: "t1", At: 11}) // a retried revoke
	if _, ok := h.f.State().ScrapeTokenByHash(sum); ok {
		t.Fatal("revoked token still there")
	}
	counts := map[string]uint64{}
	h.f.EventsApplied(func(name string, iam bool, n uint64) {
		if !iam && name == "ScrapeTokenCreate" {
			t.Error("ScrapeTokenCreate is not an IAM event")
		}
		counts[name] = n
	})
	if counts["UserCreate"] != 1 || counts["ScrapeTokenCreate"] != 3 || counts["ScrapeTokenRevoke"] != 2 || counts["ObjectPut"] != 0 {
		t.Fatalf("counts %v", counts)
	}
}

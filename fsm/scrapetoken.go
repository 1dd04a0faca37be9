package fsm

import "github.com/s4/s4/iam"

// The scrape tokens of GET /metrics (iam/scrapetoken.go): IAM events like
// the others (they move the auth index, so a follower serves only once it
// applied them), and a revoke goes through the revocation barrier, so that
// no node accepts a revoked token once the admin API acknowledged it.
const (
	MsgScrapeTokenCreate MessageType = 6
	MsgScrapeTokenRevoke MessageType = 7
)

// ScrapeTokenCreate adds a scrape token. The proposer draws the token and
// its ID and sends only the token's SHA-256 (32 bytes): the token itself
// never reaches the log.
type ScrapeTokenCreate struct {
	ID        string
	Name      string
	Hash      []byte
	CreatedBy string
	At        int64
	Origin    Origin // who proposed it, from where (history.go)
}

// ScrapeTokenRevoke removes a scrape token; an unknown ID is a no-op, so a
// retried revoke is harmless.
type ScrapeTokenRevoke struct {
	ID     string
	At     int64
	Origin Origin // who proposed it, from where (history.go)
}

func (f *FSM) applyScrapeTokenCreate(s *iam.State, ev *ScrapeTokenCreate) applied {
	var hash [32]byte
	if len(ev.Hash) != len(hash) {
		return applied{resp: eventError(&iam.InvalidError{Reason: "scrape token hash must be 32 bytes"})}
	}
	copy(hash[:], ev.Hash)
	next, err := s.CreateScrapeToken(ev.ID, ev.Name, hash, ev.CreatedBy, ev.At)
	return applied{state: next, resp: eventError(err)}
}

func (f *FSM) applyScrapeTokenRevoke(s *iam.State, ev *ScrapeTokenRevoke) applied {
	next, err := s.RevokeScrapeToken(ev.ID)
	return applied{state: next, resp: eventError(err)}
}

// ScrapeTokens is State().ScrapeTokens.
func (f *FSM) ScrapeTokens() []*iam.ScrapeToken { return f.view.Load().iam.ScrapeTokens() }

// ScrapeTokenByID is State().ScrapeTokenByID.
func (f *FSM) ScrapeTokenByID(id string) (*iam.ScrapeToken, bool) {
	return f.view.Load().iam.ScrapeTokenByID(id)
}

// ScrapeTokenByHash is State().ScrapeTokenByHash: the check of a scrape.
func (f *FSM) ScrapeTokenByHash(hash [32]byte) (*iam.ScrapeToken, bool) {
	return f.view.Load().iam.ScrapeTokenByHash(hash)
}

package iam

import "sort"

// ScrapeToken is a long-lived bearer token that lets Prometheus scrape
// GET /metrics. Only the SHA-256 of the token is kept: the token itself
// exists in the admin API's answer that created it, and in the scraper's
// configuration. Like a *User, a *ScrapeToken reachable from a State never
// changes.
type ScrapeToken struct {
	ID        string
	Name      string   // what the operator called it ("" for none)
	Hash      [32]byte // SHA-256 of the token
	CreatedBy string   // the ID of the user who created it
	CreatedAt int64    // Unix nanoseconds, stamped by the proposer
}

// tokenSet is the State's scrape tokens: a handful, so an immutable pair of
// maps copied on every change is cheaper than a trie. nil is the empty set.
type tokenSet struct {
	byID   map[string]*ScrapeToken
	byHash map[[32]byte]*ScrapeToken
}

func (t *tokenSet) len() int {
	if t == nil {
		return 0
	}
	return len(t.byID)
}

// with returns a copy of t with tok added (or, with tok nil, without the
// token id).
func (t *tokenSet) with(tok *ScrapeToken, without string) *tokenSet {
	n := &tokenSet{byID: map[string]*ScrapeToken{}, byHash: map[[32]byte]*ScrapeToken{}}
	if t != nil {
		for id, v := range t.byID {
			if id != without {
				n.byID[id], n.byHash[v.Hash] = v, v
			}
		}
	}
	if tok != nil {
		n.byID[tok.ID], n.byHash[tok.Hash] = tok, tok
	}
	if len(n.byID) == 0 {
		return nil
	}
	return n
}

// ScrapeTokenByHash returns the scrape token whose SHA-256 is hash: the
// check of every authenticated scrape.
func (s *State) ScrapeTokenByHash(hash [32]byte) (*ScrapeToken, bool) {
	if s.tokens == nil {
		return nil, false
	}
	t, ok := s.tokens.byHash[hash]
	return t, ok
}

// ScrapeTokenByID returns the scrape token with the given ID.
func (s *State) ScrapeTokenByID(id string) (*ScrapeToken, bool) {
	if s.tokens == nil {
		return nil, false
	}
	t, ok := s.tokens.byID[id]
	return t, ok
}

// NumScrapeTokens returns the number of scrape tokens.
func (s *State) NumScrapeTokens() int { return s.tokens.len() }

// ScrapeTokens returns every scrape token ordered by creation time, then ID.
func (s *State) ScrapeTokens() []*ScrapeToken {
	out := make([]*ScrapeToken, 0, s.tokens.len())
	if s.tokens != nil {
		for _, t := range s.tokens.byID {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// CreateScrapeToken adds a scrape token. It refuses an empty id, a zero
// hash, an id or a hash in use (an InvalidError each: the proposer draws
// both at random, so no correct proposer sends them).
func (s *State) CreateScrapeToken(id, name string, hash [32]byte, createdBy string, at int64) (*State, error) {
	if id == "" || hash == [32]byte{} {
		return nil, invalid("scrape token create needs an id and a hash")
	}
	if _, ok := s.ScrapeTokenByID(id); ok {
		return nil, invalid("scrape token id %s in use", id)
	}
	if _, ok := s.ScrapeTokenByHash(hash); ok {
		return nil, invalid("scrape token hash in use")
	}
	n := *s
	n.tokens = s.tokens.with(&ScrapeToken{ID: id, Name: name, Hash: hash, CreatedBy: createdBy, CreatedAt: at}, "")
	return &n, nil
}

// RevokeScrapeToken removes a scrape token. An unknown id returns s
// itself: a retried revoke is harmless.
func (s *State) RevokeScrapeToken(id string) (*State, error) {
	if _, ok := s.ScrapeTokenByID(id); !ok {
		return s, nil
	}
	n := *s
	n.tokens = s.tokens.with(nil, id)
	return &n, nil
}

// AddScrapeToken queues a copy of t (a snapshot's restore).
func (b *Builder) AddScrapeToken(t *ScrapeToken) {
	v := *t
	b.tokens = append(b.tokens, &v)
}

package fsm

import "github.com/s4/s4/iam"

// The IAM handlers (rows of eventTable): each is the event's transition of
// the iam.State, which validates and returns the next state (s itself stays
// as readers see it).

func (f *FSM) applyUserCreate(s *iam.State, ev *UserCreate) applied {
	next, err := s.CreateUser(ev.ID, ev.Username, ev.PasswordHash, ev.Role, ev.Root, ev.At)
	return applied{state: next, resp: eventError(err)}
}

func (f *FSM) applyUserUpdate(s *iam.State, ev *UserUpdate) applied {
	next, err := s.UpdateUser(ev.ID, ev.PasswordHash, ev.Role, ev.Active, ev.At)
	return applied{state: next, resp: eventError(err)}
}

func (f *FSM) applyUserDelete(s *iam.State, ev *UserDelete) applied {
	next, dropped, err := s.DeleteUser(ev.ID)
	return applied{state: next, resp: eventError(err), dropped: dropped}
}

// applyCredentialIssue unseals the secret between the checks of the user
// and the key and the transition, so that a refused user or key is
// answered as such whatever the secret. Unsealing is deterministic: the
// same bytes and key open the same way on every node. A secret that does
// not open means the proposer used another cluster key; every node refuses
// it identically.
func (f *FSM) applyCredentialIssue(s *iam.State, ev *CredentialIssue) applied {
	if err := s.CheckCredential(ev.UserID, ev.AccessKey); err != nil {
		return applied{resp: eventError(err)}
	}
	secret, err := f.sealer.Open(ev.SealedSecret, ev.AccessKey)
	if err != nil {
		return applied{resp: ErrSecretUnsealing}
	}
	next, dropped, err := s.IssueCredential(ev.UserID, ev.AccessKey, secret, ev.At)
	return applied{state: next, resp: eventError(err), dropped: dropped}
}

func (f *FSM) applyCredentialRevoke(s *iam.State, ev *CredentialRevoke) applied {
	next, dropped, err := s.RevokeCredential(ev.UserID, ev.At)
	return applied{state: next, resp: eventError(err), dropped: dropped}
}

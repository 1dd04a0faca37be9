package meta

// AccessAtOneByOne is AccessAt with the owners looked up one seek per key,
// in the answer's order (how AccessAt did it before usersAt), kept for the
// A/B of BenchmarkHistoryMillion.
func (s *Store) AccessAtOneByOne(t int64) (AccessList, error) {
	return s.accessAt(t, func(h *hist, keys []KeyAccess, c uint64) {
		for i := range keys {
			ka := &keys[i]
			if st, ok := h.userAt(ka.UserID, c); ok {
				ka.Username, ka.Role, ka.Active = st.Username, st.Role, st.Active && !st.Deleted
			}
		}
	})
}

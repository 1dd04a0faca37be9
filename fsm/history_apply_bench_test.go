package fsm

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/s4/s4/iam"
	"github.com/s4/s4/meta"
)

// BenchmarkApplyIAMWithHistory is the FSM's cost of an IAM event (issue
// and revoke, alternating over 1,024 users) in batches of batch entries,
// with the IAM history (a meta store attached: what a node runs) and
// without it (no meta store: IAM only, as before the history), A/B in one
// run:
//
//	go test -run xxx -bench ApplyIAMWithHistory -benchtime 20000x ./fsm
func BenchmarkApplyIAMWithHistory(b *testing.B) {
	for _, batch := range []int{1, 8, 64, 512} {
		for _, history := range []bool{false, true} {
			b.Run(fmt.Sprintf("batch=%d/history=%v", batch, history), func(b *testing.B) {
				f := New(testSealer)
				if history {
					m, err := meta.Open(filepath.Join(b.TempDir(), "meta.db"))
					if err != nil {
						b.Fatal(err)
					}
					defer m.Close()
					f.AttachMeta(m)
				}
				const users = 1024
				idx := uint64(0)
				apply := func(typ MessageType, body any) {
					cmd, err := Encode(typ, body)
					if err != nil {
						b.Fatal(err)
					}
					idx++
					if r := f.ApplyBatch([]*raft.Log{{Index: idx, Type: raft.LogCommand, Data: cmd}}); r[0] != nil {
						b.Fatal(r[0])
					}
				}
				for u := 0; u < users; u++ {
					apply(MsgUserCreate, &UserCreate{ID: fmt.Sprintf("u%d", u), Username: fmt.Sprintf("user%d", u), PasswordHash: []byte("h"), Role: iam.RoleWriter, At: int64(idx)})
				}
				logs := make([]*raft.Log, b.N)
				for i := range logs {
					u := fmt.Sprintf("u%d", i%users)
					o := Origin{ActorID: "r", ActorName: "root", Node: "n1", Client: "127.0.0.1:4000"}
					var cmd []byte
					if (i/users)%2 == 0 {
						ak := fmt.Sprintf("S4AK%020d", i)
						sealed, _ := testSealer.Seal("secretsecretsecretsecretsecretsecret1234", ak)
						cmd, _ = Encode(MsgCredentialIssue, &CredentialIssue{UserID: u, AccessKey: ak, SealedSecret: sealed, At: int64(idx) + int64(i), Origin: o})
					} else {
						cmd, _ = Encode(MsgCredentialRevoke, &CredentialRevoke{UserID: u, At: int64(idx) + int64(i), Origin: o})
					}
					logs[i] = &raft.Log{Index: idx + uint64(i) + 1, Type: raft.LogCommand, Data: cmd}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i += batch {
					for _, r := range f.ApplyBatch(logs[i:min(i+batch, b.N)]) {
						if r != nil {
							b.Fatal(r)
						}
					}
				}
			})
		}
	}
}

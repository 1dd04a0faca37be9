package fsm

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/s4/s4/iam"
)

// declaredMessageTypes parses this package's sources for its Msg* constants.
func declaredMessageTypes(t *testing.T) map[string]MessageType {
	t.Helper()
	paths, err := filepath.Glob("*.go")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	out := map[string]MessageType{}
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Msg") {
						continue
					}
					if i >= len(vs.Values) {
						t.Fatalf("%s: implicit value; teach this test", name.Name)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.INT {
						t.Fatalf("%s: not an integer literal; teach this test", name.Name)
					}
					v, err := strconv.ParseUint(lit.Value, 0, 8)
					if err != nil {
						t.Fatal(err)
					}
					out[name.Name] = MessageType(v)
				}
			}
		}
	}
	return out
}

// TestEventTable: every Msg* constant has exactly one row, with a handler
// and a body; an encoded empty body passes CheckEvent and applies without
// a panic; the IAM and revocation columns say what the design says.
func TestEventTable(t *testing.T) {
	declared := declaredMessageTypes(t)
	if len(declared) != len(eventTable) {
		t.Errorf("%d Msg* constants, %d rows in the event table", len(declared), len(eventTable))
	}
	for name, mt := range declared {
		spec := specs[mt]
		if spec == nil {
			t.Errorf("%s (%d) has no row in the event table", name, mt)
			continue
		}
		if "Msg"+spec.name != name || spec.apply == nil || spec.body == nil {
			t.Errorf("%s: row %+v", name, spec)
		}
		cmd, err := Encode(mt, spec.body())
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckEvent(cmd); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		newMetaHarness(t).apply(mt, spec.body()) // an empty body is refused or a no-op, never a panic
	}
	revoking := map[MessageType]bool{MsgUserUpdate: true, MsgUserDelete: true, MsgCredentialIssue: true, MsgCredentialRevoke: true,
		MsgScrapeTokenRevoke: true}
	isIAMEvent := map[MessageType]bool{MsgUserCreate: true, MsgUserUpdate: true, MsgUserDelete: true, MsgCredentialIssue: true, MsgCredentialRevoke: true,
		MsgScrapeTokenCreate: true, MsgScrapeTokenRevoke: true}
	for _, spec := range eventTable {
		cmd, _ := Encode(spec.t, spec.body())
		if Revokes(cmd) != revoking[spec.t] {
			t.Errorf("%s: Revokes = %t", spec.name, Revokes(cmd))
		}
		if isIAM(cmd) != isIAMEvent[spec.t] {
			t.Errorf("%s: isIAM = %t", spec.name, isIAM(cmd))
		}
	}
	if _, err := Encode(MsgUserCreate, &UserDelete{}); err == nil {
		t.Error("Encode took the body of another event")
	}
}

func TestCheckEventRefuses(t *testing.T) {
	good, err := Encode(MsgUserCreate, &UserCreate{ID: "u1", Username: "alice", Role: iam.RoleReader, At: 1})
	if err != nil {
		t.Fatal(err)
	}
	for name, cmd := range map[string][]byte{
		"empty":        nil,
		"one byte":     {byte(MsgUserCreate)},
		"unknown type": {99, eventVersion, 0x80},
		"bad version":  append([]byte{good[0], 7}, good[2:]...),
		"garbage body": {byte(MsgUserCreate), eventVersion, 0xc1, 0xff, 0x00},
		"wrong shape":  {byte(MsgUserCreate), eventVersion, 0x05},
		"truncated":    good[:len(good)-3],
		"oversized":    append(append([]byte(nil), good...), make([]byte, MaxEventSize)...),
	} {
		if err := CheckEvent(cmd); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: CheckEvent = %v, want ErrInvalidEvent", name, err)
		}
	}
	if err := CheckEvent(good); err != nil {
		t.Errorf("good event: %v", err)
	}
	// Unknown types flagged as ignorable are skipped by the FSM: accepted.
	if err := CheckEvent([]byte{byte(99 | IgnoreUnknownTypeFlag), 3, 0xc1}); err != nil {
		t.Errorf("ignorable unknown event: %v", err)
	}
	// Known types keep being checked with the flag.
	if err := CheckEvent([]byte{byte(MsgUserCreate | IgnoreUnknownTypeFlag), eventVersion, 0xc1}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("flagged known type with a bad body: %v", err)
	}
}

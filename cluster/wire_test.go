package cluster

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/s4/s4/fsm"
)

// parseFSM parses the non-test Go files of package fsm.
func parseFSM(t *testing.T) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "fsm", "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fsm sources: %v", err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, p, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// fsmErrors returns every exported package-level Err* variable of fsm that
// is initialized with errors.New("..."), with its message.
func fsmErrors(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, f := range parseFSM(t) {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Err") || !name.IsExported() {
						continue
					}
					msg := "?"
					if i < len(vs.Values) {
						if call, ok := vs.Values[i].(*ast.CallExpr); ok && len(call.Args) == 1 {
							if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								msg, _ = strconv.Unquote(lit.Value)
							}
						}
					}
					out[name.Name] = msg
				}
			}
		}
	}
	return out
}

// fsmMessageTypes returns every Msg* constant of fsm with its value.
func fsmMessageTypes(t *testing.T) map[string]fsm.MessageType {
	out := map[string]fsm.MessageType{}
	for _, f := range parseFSM(t) {
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
						t.Fatalf("fsm.%s: implicit value; teach this test", name.Name)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.INT {
						t.Fatalf("fsm.%s: not an integer literal; teach this test", name.Name)
					}
					v, err := strconv.ParseUint(lit.Value, 0, 8)
					if err != nil {
						t.Fatal(err)
					}
					out[name.Name] = fsm.MessageType(v)
				}
			}
		}
	}
	return out
}

// Every exported fsm.Err* crosses the wire under its own name.
func TestErrorTableHasEveryFSMError(t *testing.T) {
	declared := fsmErrors(t)
	if len(declared) < 16 {
		t.Fatalf("found only %d fsm errors: %v", len(declared), declared)
	}
	inTable := map[string]error{}
	for _, e := range errorTable {
		if name, ok := strings.CutPrefix(e.code, "fsm."); ok {
			inTable[name] = e.err
		}
	}
	for name, msg := range declared {
		err, ok := inTable[name]
		if !ok {
			t.Errorf("fsm.%s is missing from errorTable", name)
			continue
		}
		if err.Error() != msg {
			t.Errorf("errorTable maps fsm.%s to %q, but fsm.%s is %q", name, err, name, msg)
		}
	}
	for name := range inTable {
		if _, ok := declared[name]; !ok {
			t.Errorf("errorTable lists fsm.%s, which fsm does not declare", name)
		}
	}
	seen := map[error]string{}
	for _, e := range errorTable {
		if prev, dup := seen[e.err]; dup {
			t.Errorf("%s and %s are the same error", prev, e.code)
		}
		seen[e.err] = e.code
	}
}

// Every fsm event type is checked, and fsm.Encode's output passes.
func TestEventTableHasEveryFSMType(t *testing.T) {
	declared := fsmMessageTypes(t)
	if len(declared) != len(eventBodies) {
		t.Errorf("fsm declares %d event types, eventBodies has %d", len(declared), len(eventBodies))
	}
	for name, mt := range declared {
		newBody, ok := eventBodies[mt]
		if !ok {
			t.Errorf("fsm.%s (%d) is missing from eventBodies", name, mt)
			continue
		}
		cmd, err := fsm.Encode(mt, newBody())
		if err != nil {
			t.Fatal(err)
		}
		if cmd[1] != eventVersion {
			t.Errorf("fsm.Encode writes version %d, cluster checks %d", cmd[1], eventVersion)
		}
		if err := checkEvent(cmd); err != nil {
			t.Errorf("fsm.%s: %v", name, err)
		}
	}
}

func TestCheckEventRefuses(t *testing.T) {
	good := mustEncode(t, fsm.MsgUserCreate, userCreate("alice"))
	for name, cmd := range map[string][]byte{
		"empty":        nil,
		"one byte":     {byte(fsm.MsgUserCreate)},
		"unknown type": {99, eventVersion, 0x80},
		"bad version":  append([]byte{good[0], 7}, good[2:]...),
		"garbage body": {byte(fsm.MsgUserCreate), eventVersion, 0xc1, 0xff, 0x00},
		"wrong shape":  {byte(fsm.MsgUserCreate), eventVersion, 0x05},
		"truncated":    good[:len(good)-3],
		"oversized":    append(append([]byte(nil), good...), make([]byte, fsm.MaxEventSize)...),
	} {
		if err := checkEvent(cmd); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%s: checkEvent = %v, want ErrInvalidCommand", name, err)
		}
	}
	if err := checkEvent(good); err != nil {
		t.Errorf("good event: %v", err)
	}
	// Unknown types flagged as ignorable are skipped by the FSM: accepted.
	if err := checkEvent([]byte{byte(99 | fsm.IgnoreUnknownTypeFlag), 3, 0xc1}); err != nil {
		t.Errorf("ignorable unknown event: %v", err)
	}
	// Known types keep being checked with the flag.
	if err := checkEvent([]byte{byte(fsm.MsgUserCreate | fsm.IgnoreUnknownTypeFlag), eventVersion, 0xc1}); !errors.Is(err, ErrInvalidCommand) {
		t.Errorf("flagged known type with a bad body: %v", err)
	}
}

// A sentinel comes back as itself; a wrapped one keeps its message and
// still matches; an unknown code becomes a plain error.
func TestErrorRoundTrip(t *testing.T) {
	for _, e := range errorTable {
		got := decodeError(encodeError(e.err))
		if got != e.err {
			t.Errorf("%s: bare sentinel came back as %#v", e.code, got)
		}
		wrapped := fmt.Errorf("%w: part 3", e.err)
		got = decodeError(encodeError(wrapped))
		if !errors.Is(got, e.err) || got.Error() != wrapped.Error() {
			t.Errorf("%s: wrapped came back as %q (is=%v)", e.code, got, errors.Is(got, e.err))
		}
	}
	got := decodeError(wireError{Code: "fsm.ErrFromTheFuture", Message: "something new"})
	if got.Error() != "something new" {
		t.Errorf("unknown code: %v", got)
	}
	for _, e := range errorTable {
		if errors.Is(got, e.err) {
			t.Errorf("unknown code matches %s", e.code)
		}
	}
	if w := encodeError(errors.New(strings.Repeat("x", 10000))); len(w.Message) != maxErrorMessage {
		t.Errorf("message not bounded: %d bytes", len(w.Message))
	}
	if encodeResp(nil) != nil {
		t.Error("nil response must stay nil")
	}
	if w := encodeResp(42); w == nil || decodeError(*w).Error() != errUnexpectedResponse.Error() {
		t.Errorf("non-error response: %v", w)
	}
}

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
)

// parsePackage parses the non-test Go files of the package in dir (relative
// to the repository's root).
func parsePackage(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no %s sources: %v", dir, err)
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

// errorVars returns the value of every exported package-level Err*
// variable of files (nil when it has none).
func errorVars(files []*ast.File) map[string]ast.Expr {
	out := map[string]ast.Expr{}
	for _, f := range files {
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
					var v ast.Expr
					if i < len(vs.Values) {
						v = vs.Values[i]
					}
					out[name.Name] = v
				}
			}
		}
	}
	return out
}

// newMessage returns the message of errors.New("..."), or "?".
func newMessage(v ast.Expr) string {
	if call, ok := v.(*ast.CallExpr); ok && len(call.Args) == 1 {
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			msg, _ := strconv.Unquote(lit.Value)
			return msg
		}
	}
	return "?"
}

// errorStores are the packages whose domain errors fsm re-exports.
var errorStores = []string{"iam", "meta"}

// fsmErrors returns every exported package-level Err* variable of fsm with
// its message: one fsm initializes with errors.New("..."), or an alias
// (ErrX = iam.ErrX) of one that a store declares so. Every exported Err*
// of the stores must be re-exported by fsm, once and under its own name.
func fsmErrors(t *testing.T) map[string]string {
	stores := map[string]map[string]ast.Expr{}
	for _, pkg := range errorStores {
		stores[pkg] = errorVars(parsePackage(t, pkg))
	}
	aliased := map[string]string{} // "iam.ErrX" -> the fsm name that re-exports it
	out := map[string]string{}
	for name, v := range errorVars(parsePackage(t, "fsm")) {
		sel, ok := v.(*ast.SelectorExpr)
		if !ok {
			out[name] = newMessage(v)
			continue
		}
		pkg, _ := sel.X.(*ast.Ident)
		store := stores[pkg.String()]
		decl, declared := store[sel.Sel.Name]
		switch {
		case store == nil || !declared:
			t.Errorf("fsm.%s = %s.%s, which is no store's error", name, pkg, sel.Sel.Name)
		case sel.Sel.Name != name:
			t.Errorf("fsm.%s re-exports %s.%s under another name", name, pkg, sel.Sel.Name)
		}
		key := pkg.String() + "." + sel.Sel.Name
		if prev, dup := aliased[key]; dup {
			t.Errorf("fsm.%s and fsm.%s both re-export %s", prev, name, key)
		}
		aliased[key] = name
		out[name] = newMessage(decl)
	}
	for _, pkg := range errorStores {
		for name := range stores[pkg] {
			if _, ok := aliased[pkg+"."+name]; !ok {
				t.Errorf("%s.%s is not re-exported by fsm (fsm/errors.go)", pkg, name)
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

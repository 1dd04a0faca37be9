package admin

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/s4/s4/iam"
)

func TestDecodeLogin(t *testing.T) {
	r, err := decodeLogin([]byte(` {"password":"pw","username":"root"} ` + "\n"))
	if err != nil || r.Username != "root" || r.Password != "pw" {
		t.Fatalf("%+v %v", r, err)
	}
	// Escapes are decoded.
	r, err = decodeLogin([]byte(`{"username":"r\u006fot","password":"a\"b\\c"}`))
	if err != nil || r.Username != "root" || r.Password != `a"b\c` {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestDecodeCreateUser(t *testing.T) {
	r, err := decodeCreateUser([]byte(`{"username":"alice","password":"alice123","role":"Writer"}`))
	if err != nil || r.Username != "alice" || r.Password != "alice123" || r.Role != iam.RoleWriter {
		t.Fatalf("%+v %v", r, err)
	}
	_, err = decodeCreateUser([]byte(`{"username":"alice","password":"alice123","role":"Writer","x":1}`))
	var br *badRequest
	if !errors.As(err, &br) || !strings.Contains(br.msg, "unknown field") {
		t.Fatalf("unknown field: %v", err)
	}
	// Messages never echo a password.
	_, err = decodeCreateUser([]byte(`{"username":"alice","password":"sh0rt","role":"Writer"}`))
	if err == nil || strings.Contains(err.Error(), "sh0rt") {
		t.Fatalf("short password: %v", err)
	}
}

func TestDecodeUpdateUser(t *testing.T) {
	r, err := decodeUpdateUser([]byte(`{"is_active":false}`))
	if err != nil || r.Active == nil || *r.Active || r.Role != nil || r.Password != nil {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = decodeUpdateUser([]byte(`{"password":"12345678","role":"SuperUser","is_active":true}`))
	if err != nil || *r.Password != "12345678" || *r.Role != iam.RoleSuperUser || !*r.Active {
		t.Fatalf("%+v %v", r, err)
	}
	for _, b := range []string{`{}`, `{"role":null}`, `{"is_active":1}`, ` `, `{"role":"Reader"}]`} {
		if _, err := decodeUpdateUser([]byte(b)); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
}

func TestDecodeEmpty(t *testing.T) {
	for _, b := range []string{"", " ", "\r\n\t", "{}", " { } "} {
		if err := decodeEmpty([]byte(b)); err != nil {
			t.Errorf("%q: %v", b, err)
		}
	}
	for _, b := range []string{"{", "[]", "null", `{"a":1}`, "{}{}", "x"} {
		if err := decodeEmpty([]byte(b)); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("ééé", 3); got != "é..." || !utf8.ValidString(got) {
		t.Fatalf("%q", got)
	}
	if got := truncate("abc", 3); got != "abc" {
		t.Fatalf("%q", got)
	}
}

var fuzzSeeds = []string{
	``, `{}`, `null`, `[]`, `{"username":"root","password":"password12345"}`,
	`{"username":"alice","password":"alice123","role":"Writer"}`,
	`{"password":"12345678","role":"SuperUser","is_active":true}`,
	`{"is_active":false}`, `{"role":null}`, `{"username":"a","username":"b"}`,
	`{"USERNAME":"x"}`, `{"username":"abc","password":"12345678","role":"Reader"} trailing`,
	`{"username":"ab\u0000c","password":"\ud800\udc00xxxxxxx","role":"Reader"}`,
	"{\"username\":\"abc\",\"password\":\"\xff\xfe12345678\",\"role\":\"Reader\"}",
	`{"username":"abc","password":"12345678","role":"Reader","x":{"y":[1,2,{"z":null}]}}`,
	`{"username":"abc","password":"` + strings.Repeat("x", 1025) + `","role":"Reader"}`,
}

// assertError checks what every rejection must be: a client-safe message.
func assertError(t *testing.T, err error) {
	var br *badRequest
	if !errors.As(err, &br) || br.msg == "" {
		t.Fatalf("error %v is not a badRequest", err)
	}
	if _, jerr := json.Marshal(errorJSON{Error: br.msg}); jerr != nil {
		t.Fatal(jerr)
	}
}

func FuzzDecodeLogin(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeLogin(body)
		if err != nil {
			assertError(t, err)
			return
		}
		if !utf8.Valid(body) {
			t.Fatal("accepted invalid UTF-8")
		}
		if r.Username == "" || len(r.Username) > maxLoginNameBytes || r.Password == "" || len(r.Password) > maxPasswordBytes {
			t.Fatalf("accepted %q / %d-byte password", r.Username, len(r.Password))
		}
		// What was accepted is exactly one object with exactly these keys.
		var m map[string]any
		if json.Unmarshal(body, &m) != nil || len(m) != 2 || m["username"] != r.Username || m["password"] != r.Password {
			t.Fatalf("accepted %q, which is not {username, password}", body)
		}
	})
}

func FuzzDecodeCreateUser(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeCreateUser(body)
		if err != nil {
			assertError(t, err)
			return
		}
		if !validUsername(r.Username) {
			t.Fatalf("accepted username %q", r.Username)
		}
		if len(r.Password) > maxPasswordBytes || utf8.RuneCountInString(r.Password) < minPasswordRunes {
			t.Fatalf("accepted a password of %d bytes", len(r.Password))
		}
		if r.Role != iam.RoleReader && r.Role != iam.RoleWriter && r.Role != iam.RoleSuperUser {
			t.Fatalf("accepted role %v", r.Role)
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil || len(m) != 3 || m["username"] != r.Username || m["password"] != r.Password || m["role"] != r.Role.String() {
			t.Fatalf("accepted %q, which is not {username, password, role}", body)
		}
	})
}

func FuzzDecodeUpdateUser(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeUpdateUser(body)
		if err != nil {
			assertError(t, err)
			return
		}
		n := 0
		if r.Password != nil {
			n++
			if !validPassword(*r.Password) {
				t.Fatalf("accepted a password of %d bytes", len(*r.Password))
			}
		}
		if r.Role != nil {
			n++
			if !r.Role.Valid() {
				t.Fatalf("accepted role %v", *r.Role)
			}
		}
		if r.Active != nil {
			n++
		}
		if n == 0 {
			t.Fatal("accepted an update that changes nothing")
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil || len(m) != n {
			t.Fatalf("accepted %q with %d fields", body, n)
		}
		for k, v := range m {
			switch k {
			case "password":
				if v != *r.Password {
					t.Fatal("password mismatch")
				}
			case "role":
				if v != r.Role.String() {
					t.Fatal("role mismatch")
				}
			case "is_active":
				if v != *r.Active {
					t.Fatal("is_active mismatch")
				}
			default:
				t.Fatalf("accepted field %q", k)
			}
		}
	})
}

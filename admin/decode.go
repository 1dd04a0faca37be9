package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/s4/s4/iam"
)

// Limits on request input. Bodies are capped in ServeFastHTTP (maxBodySize);
// the field limits below are checked by the pure decode functions.
const (
	maxBodySize       = 64 << 10
	minUsernameLen    = 3
	maxUsernameLen    = 32
	minPasswordRunes  = 8
	maxPasswordBytes  = 1024
	maxLoginNameBytes = 256 // login accepts any name up to this; invalid ones simply fail
)

// badRequest is a validation error whose message is safe to return to the
// client. Messages name fields, never echo values (they may be passwords).
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

type loginReq struct {
	Username string
	Password string
}

type createUserReq struct {
	Username string
	Password string
	Role     iam.Role
}

// updateUserReq holds the fields a PUT gave; nil means "leave alone". At
// least one is non-nil in every value decodeUpdateUser accepts.
type updateUserReq struct {
	Password *string
	Role     *iam.Role
	Active   *bool
}

// decodeLogin parses {"username": ..., "password": ...}. It checks shape and
// size only: a name that cannot exist is rejected later like an unknown user.
func decodeLogin(body []byte) (loginReq, error) {
	fields, err := decodeObject(body, "username", "password")
	if err != nil {
		return loginReq{}, err
	}
	var r loginReq
	if r.Username, err = requiredString(fields, "username"); err != nil {
		return loginReq{}, err
	}
	if r.Password, err = requiredString(fields, "password"); err != nil {
		return loginReq{}, err
	}
	if r.Username == "" || len(r.Username) > maxLoginNameBytes {
		return loginReq{}, badf("username must be 1 to %d bytes", maxLoginNameBytes)
	}
	if r.Password == "" || len(r.Password) > maxPasswordBytes {
		return loginReq{}, badf("password must be 1 to %d bytes", maxPasswordBytes)
	}
	return r, nil
}

// decodeCreateUser parses {"username", "password", "role"}, all required.
func decodeCreateUser(body []byte) (createUserReq, error) {
	fields, err := decodeObject(body, "username", "password", "role")
	if err != nil {
		return createUserReq{}, err
	}
	var r createUserReq
	if r.Username, err = requiredString(fields, "username"); err != nil {
		return createUserReq{}, err
	}
	if err := checkUsername(r.Username); err != nil {
		return createUserReq{}, err
	}
	if r.Password, err = requiredString(fields, "password"); err != nil {
		return createUserReq{}, err
	}
	if err := checkPassword(r.Password); err != nil {
		return createUserReq{}, err
	}
	role, err := requiredString(fields, "role")
	if err != nil {
		return createUserReq{}, err
	}
	if r.Role, err = parseRole(role); err != nil {
		return createUserReq{}, err
	}
	return r, nil
}

// decodeUpdateUser parses any of {"password", "role", "is_active"}; at least
// one must be given, and null is not a value.
func decodeUpdateUser(body []byte) (updateUserReq, error) {
	fields, err := decodeObject(body, "password", "role", "is_active")
	if err != nil {
		return updateUserReq{}, err
	}
	if len(fields) == 0 {
		return updateUserReq{}, badf("nothing to update: give password, role or is_active")
	}
	var r updateUserReq
	if raw, ok := fields["password"]; ok {
		pw, err := stringValue(raw, "password")
		if err != nil {
			return updateUserReq{}, err
		}
		if err := checkPassword(pw); err != nil {
			return updateUserReq{}, err
		}
		r.Password = &pw
	}
	if raw, ok := fields["role"]; ok {
		s, err := stringValue(raw, "role")
		if err != nil {
			return updateUserReq{}, err
		}
		role, err := parseRole(s)
		if err != nil {
			return updateUserReq{}, err
		}
		r.Role = &role
	}
	if raw, ok := fields["is_active"]; ok {
		var b bool
		switch string(raw) {
		case "true":
			b = true
		case "false":
			b = false
		default:
			return updateUserReq{}, badf("is_active must be true or false")
		}
		r.Active = &b
	}
	return r, nil
}

// decodeEmpty accepts the body of a request that takes none: nothing,
// whitespace, or an empty JSON object.
func decodeEmpty(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	_, err := decodeObject(body)
	return err
}

// decodeObject parses body as exactly one JSON object whose keys are all in
// allowed (exact, case-sensitive match; encoding/json alone would match
// "USERNAME" to username), each at most once, followed only by whitespace.
// It returns the raw value of each key.
func decodeObject(body []byte, allowed ...string) (map[string]json.RawMessage, error) {
	if !utf8.Valid(body) {
		return nil, badf("body is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, badf("body must be a JSON object")
	}
	if trimmed[0] != '{' {
		return nil, badf("body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the '{'
		return nil, badf("malformed JSON")
	}
	fields := make(map[string]json.RawMessage, len(allowed))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badf("malformed JSON")
		}
		key, ok := tok.(string)
		if !ok {
			return nil, badf("malformed JSON")
		}
		known := false
		for _, a := range allowed {
			if key == a {
				known = true
				break
			}
		}
		if !known {
			return nil, badf("unknown field %q", truncate(key, 64))
		}
		if _, dup := fields[key]; dup {
			return nil, badf("duplicate field %q", key)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, badf("malformed JSON")
		}
		fields[key] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, badf("malformed JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badf("unexpected data after the JSON object")
	}
	return fields, nil
}

func requiredString(fields map[string]json.RawMessage, name string) (string, error) {
	raw, ok := fields[name]
	if !ok {
		return "", badf("%s is required", name)
	}
	return stringValue(raw, name)
}

func stringValue(raw json.RawMessage, name string) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", badf("%s must be a string", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badf("%s must be a string", name)
	}
	return s, nil
}

// checkUsername: 3 to 32 characters of [A-Za-z0-9_].
func checkUsername(s string) error {
	if !validUsername(s) {
		return badf("username must be %d to %d characters of A-Z, a-z, 0-9 and _", minUsernameLen, maxUsernameLen)
	}
	return nil
}

func validUsername(s string) bool {
	if len(s) < minUsernameLen || len(s) > maxUsernameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkPassword: at least 8 characters (runes), at most 1024 bytes.
func checkPassword(s string) error {
	if !validPassword(s) {
		return badf("password must be at least %d characters and at most %d bytes", minPasswordRunes, maxPasswordBytes)
	}
	return nil
}

func validPassword(s string) bool {
	return len(s) <= maxPasswordBytes && utf8.RuneCountInString(s) >= minPasswordRunes
}

func parseRole(s string) (iam.Role, error) {
	r, ok := iam.ParseRole(s)
	if !ok {
		return 0, badf("role must be Reader, Writer or SuperUser")
	}
	return r, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the message stays valid UTF-8.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

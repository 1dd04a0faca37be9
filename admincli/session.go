package admincli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The sessions: one admin token per endpoint, in
// <user config dir>/s4/sessions.json (on Linux $XDG_CONFIG_HOME or
// ~/.config), a file of mode 0600 in a directory of mode 0700. logout
// removes the endpoint's token, and the file with the last one.

type session struct {
	Username  string    `json:"username"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	CACert    string    `json:"ca_cert,omitempty"` // as given at login, for later commands
	Insecure  bool      `json:"insecure,omitempty"`
}

type sessionStore struct {
	// Current is the endpoint of the last login: commands without
	// --endpoint or S4_ENDPOINT talk to it.
	Current  string              `json:"current,omitempty"`
	Sessions map[string]*session `json:"sessions"`
}

func (a *app) sessionFile() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config dir for the session file: %w", err)
	}
	return filepath.Join(dir, "s4", "sessions.json"), nil
}

// sessions reads the session file (none yet: an empty store).
func (a *app) sessions() (*sessionStore, error) {
	st := &sessionStore{Sessions: map[string]*session{}}
	path, err := a.sessionFile()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%s: %w (remove it and log in again)", path, err)
	}
	if st.Sessions == nil {
		st.Sessions = map[string]*session{}
	}
	return st, nil
}

// saveSessions writes st (user-only), or removes the file when it holds
// no session.
func (a *app) saveSessions(st *sessionStore) error {
	path, err := a.sessionFile()
	if err != nil {
		return err
	}
	if len(st.Sessions) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sessions-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

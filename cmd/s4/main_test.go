package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunDispatch(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("S4_ENDPOINT", "")
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"server", "--log-format", "yaml"}, 2, `--log-format "yaml" is not text or json`},
		{[]string{"admin", "user", "list", "--endpoint", "https://127.0.0.1:1"}, 1, "not logged in to https://127.0.0.1:1"},
		{[]string{"admin", "user", "get"}, 2, "needs 1 argument"},
		{[]string{"admin", "--help"}, 0, "credentials"},
		{[]string{"completion", "zsh"}, 0, "compdef"},
	} {
		var out, errOut bytes.Buffer
		code := run(c.args, &out, &errOut)
		if code != c.code || !strings.Contains(out.String()+errOut.String(), c.out) {
			t.Errorf("s4 %v: exit %d, %q %q; want %d and %q", c.args, code, out.String(), errOut.String(), c.code, c.out)
		}
	}
}

func TestParseScrubRate(t *testing.T) {
	for in, want := range map[string]int64{"off": -1, "OFF": -1, "16MiB": 16 << 20, "100MB/s": 100e6, "1048576": 1 << 20, " 2 GiB/s ": 2 << 30} {
		if got, err := parseScrubRate(in); err != nil || got != want {
			t.Errorf("parseScrubRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "1KiB", "2%", "default", "fast", "/s", "16MiB/h", "2TiB"} {
		if got, err := parseScrubRate(in); err == nil {
			t.Errorf("parseScrubRate(%q) = %d, want an error", in, got)
		}
	}
}

func FuzzParseScrubRate(f *testing.F) {
	for _, s := range []string{"off", "16MiB", "100MB/s", "1.5GiB/s", "0", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseScrubRate(s)
		if err == nil && r != -1 && (r < 1<<20 || r > 1<<40) {
			t.Fatalf("parseScrubRate(%q) = %d", s, r)
		}
	})
}

package node

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestConnectionErrorsGoToTheNodeLog: fasthttp's connection-level messages
// (here: plain HTTP on the HTTPS port) go to the node's logger, with its
// ID, not to stderr.
func TestConnectionErrorsGoToTheNodeLog(t *testing.T) {
	rec := newLogRecorder()
	cfg := testConfig(t.TempDir())
	cfg.Logger = slog.New(rec)
	n := mustOpen(t, cfg)
	conn, err := net.Dial("tcp", n.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	conn.Read(make([]byte, 512))
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range rec.find("") {
			if strings.Contains(l, "component=http") {
				if !strings.Contains(l, "node="+n.ID()) {
					t.Fatalf("no node ID: %q", l)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line of fasthttp in the node's log: %q", rec.find(""))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

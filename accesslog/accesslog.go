// Package accesslog writes S4's S3 access log: one JSON object per line and
// per request, with the fields of Entry and nothing else (never a secret,
// a signature, an Authorization header or a query string: a presigned
// URL's query is a credential). Lines are encoded without reflection into
// a buffer and written in batches (at 32 KiB, and at least every 200 ms),
// so a request costs an encoding and a mutex, not a system call. Close
// writes what is buffered.
package accesslog

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Entry is one request.
type Entry struct {
	Time      time.Time // when the request arrived
	RequestID string
	AccessKey string // the access key presented ("" for none); never the secret
	UserID    string // the authenticated user ("" if authentication failed)
	Operation string // the S3 operation ("unknown" if none was routed)
	Bucket    string
	Key       string
	Status    int
	ErrorCode string // the S3 error code ("" on success)
	BytesIn   int64  // request body bytes (Content-Length)
	BytesOut  int64  // response body bytes
	Duration  time.Duration
	Remote    string // the client's address
}

// Logger writes entries to w. It is safe for concurrent use.
type Logger struct {
	node string

	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	err    error // the first write error (later entries are dropped)
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

const (
	flushSize  = 32 << 10
	flushEvery = 200 * time.Millisecond
)

// New returns a Logger that writes to w, each line naming node. Close it to
// write the last lines.
func New(w io.Writer, node string) *Logger {
	l := &Logger{node: node, w: w, buf: make([]byte, 0, 2*flushSize), stop: make(chan struct{}), done: make(chan struct{})}
	go l.flusher()
	return l
}

func (l *Logger) flusher() {
	defer close(l.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.mu.Lock()
			l.flushLocked()
			l.mu.Unlock()
		case <-l.stop:
			return
		}
	}
}

// Log writes one entry (buffered).
func (l *Logger) Log(e *Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.err != nil {
		return
	}
	l.buf = l.append(l.buf, e)
	if len(l.buf) >= flushSize {
		l.flushLocked()
	}
}

func (l *Logger) flushLocked() {
	if len(l.buf) == 0 || l.err != nil {
		return
	}
	_, l.err = l.w.Write(l.buf)
	l.buf = l.buf[:0]
}

// Close writes what is buffered and stops the Logger; later entries are
// dropped. It returns the first write error. It does not close w.
func (l *Logger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return l.err
	}
	l.closed = true
	l.flushLocked()
	err := l.err
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return err
}

// append encodes e as one JSON line.
func (l *Logger) append(b []byte, e *Entry) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, `","request_id":`...)
	b = appendString(b, e.RequestID)
	b = append(b, `,"node":`...)
	b = appendString(b, l.node)
	b = append(b, `,"access_key":`...)
	b = appendString(b, e.AccessKey)
	b = append(b, `,"user_id":`...)
	b = appendString(b, e.UserID)
	b = append(b, `,"operation":`...)
	b = appendString(b, e.Operation)
	b = append(b, `,"bucket":`...)
	b = appendString(b, e.Bucket)
	b = append(b, `,"key":`...)
	b = appendString(b, e.Key)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"error_code":`...)
	b = appendString(b, e.ErrorCode)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, e.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, e.BytesOut, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.Duration.Microseconds())/1000, 'f', 3, 64)
	b = append(b, `,"remote_addr":`...)
	b = appendString(b, e.Remote)
	return append(b, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, U+2028 and U+2029 too (for JavaScript readers), and
// invalid UTF-8 replaced by U+FFFD, as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

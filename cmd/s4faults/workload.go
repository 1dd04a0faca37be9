package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// workload is the writers, readers and IAM churn. Loops stop when stop
// ends; each request has its own timeout under hard (Ctrl-C), so that a
// request in flight at the end of the run still gets its answer recorded.
type workload struct {
	clk     clock
	hist    *History
	hc      *http.Client
	bases   []string
	adm     *admin
	bucket  string
	writer  keyPair // Writer: PUTs and DELETEs
	reader  keyPair // Reader: GETs
	seed    uint64
	writers int
	keys    int // per writer
	readers int

	lanes int // warm reader connections per node, fired when it is stopped

	sums sync.Map // "key#seq" -> [32]byte of the body PUT with that version

	mu      sync.Mutex
	reserve []*lanes        // per node: warm lanes for the next pause (nil: warming up)
	running *sync.WaitGroup // the workload's goroutines; nil once it stops
	stop    context.Context
	hard    context.Context
}

func keyName(writer, j int) string { return fmt.Sprintf("w%02d/key-%02d", writer, j) }

// allKeys are the keys the writers own.
func (w *workload) allKeys() []string {
	var out []string
	for i := range w.writers {
		for j := range w.keys {
			out = append(out, keyName(i, j))
		}
	}
	return out
}

// body is version seq of key: a header naming both, then random bytes.
func body(key string, seq int, rng *rand.Rand) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "s4faults key=%s seq=%d\n", key, seq)
	n := 64 + rng.IntN(8<<10)
	for b.Len() < n {
		var x [8]byte
		v := rng.Uint64()
		for i := range x {
			x[i] = byte(v >> (8 * i))
		}
		b.Write(x[:])
	}
	return b.Bytes()
}

// parseBody returns the version a body names, -1 if it names none or
// another key.
func parseBody(key string, b []byte) int {
	line, _, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return -1
	}
	f := strings.Fields(string(line))
	if len(f) != 3 || f[0] != "s4faults" || f[1] != "key="+key || !strings.HasPrefix(f[2], "seq=") {
		return -1
	}
	seq, err := strconv.Atoi(strings.TrimPrefix(f[2], "seq="))
	if err != nil {
		return -1
	}
	return seq
}

func sumKey(key string, seq int) string { return key + "#" + strconv.Itoa(seq) }

// verify reports the version of a GET's body and whether it is
// byte-identical to what that version's PUT sent.
func (w *workload) verify(key string, b []byte) (seq int, ok bool) {
	seq = parseBody(key, b)
	want, known := w.sums.Load(sumKey(key, seq))
	return seq, known && want.([32]byte) == sha256.Sum256(b)
}

// run runs every loop until stop ends and returns when they all have.
func (w *workload) run(stop, hard context.Context) {
	var wg sync.WaitGroup
	for i := range w.writers {
		wg.Add(1)
		go func() { defer wg.Done(); w.writerLoop(stop, hard, i) }()
	}
	slots := make([]chan struct{}, len(w.bases))
	for k := range slots {
		slots[k] = make(chan struct{}, readInFlight)
	}
	for i := range w.readers {
		wg.Add(1)
		go func() { defer wg.Done(); w.readerLoop(stop, hard, i, slots) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); w.churnLoop(stop, hard) }()
	w.mu.Lock()
	w.reserve = make([]*lanes, len(w.bases))
	w.running, w.stop, w.hard = &wg, stop, hard
	w.mu.Unlock()
	for k := 1; k <= len(w.bases); k++ {
		w.rewarm(k)
	}
	<-stop.Done()
	w.mu.Lock()
	w.running = nil // no more lanes
	w.mu.Unlock()
	wg.Wait()
}

// rewarm opens node k's reserve of reader lanes in the background.
func (w *workload) rewarm(k int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running == nil {
		return
	}
	w.running.Add(1)
	go func() {
		defer w.running.Done()
		rng := w.rng(400 + uint64(k))
		var mu sync.Mutex
		l := newLanes(w.hard, w.hc, w.bases[k-1], w.reader.AccessKey, w.reader.SecretKey, w.lanes, func(ctx context.Context, c *s3.Client) {
			mu.Lock()
			key := keyName(rng.IntN(w.writers), rng.IntN(w.keys))
			mu.Unlock()
			w.hist.addRead(w.get(ctx, c, k, key))
		})
		w.mu.Lock()
		w.reserve[k-1] = l
		w.mu.Unlock()
	}()
}

// nodeStopped is the nemesis saying node k is stopped, and the others
// have taken writes since: its reserve of warm lanes reads random keys,
// one every laneStep, so that the node reads them all the moment it
// resumes; then a new reserve is opened.
func (w *workload) nodeStopped(k int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.reserve[k-1]
	if l == nil || w.running == nil {
		return
	}
	w.reserve[k-1] = nil
	w.running.Add(1)
	go func() {
		defer w.running.Done()
		defer l.close()
		rng := w.rng(500 + uint64(k) + uint64(w.clk.now()))
		var mu sync.Mutex
		l.fire(w.hard, laneStep, func(c *s3.Client) {
			mu.Lock()
			key := keyName(rng.IntN(w.writers), rng.IntN(w.keys))
			mu.Unlock()
			w.hist.addRead(w.get(w.hard, c, k, key))
		})
		w.rewarm(k)
	}()
}

func (w *workload) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(w.seed, stream))
}

// pause waits d or until ctx ends: pacing, and a breather after a request
// that got no answer (a dead node refuses at once).
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// writerLoop: writer i owns keys w<i>/key-*; each key's operations go
// one at a time, numbered 1, 2, 3, ...; about one in ten is a DELETE.
func (w *workload) writerLoop(stop, hard context.Context, i int) {
	rng := w.rng(100 + uint64(i))
	clients := make([]*s3.Client, len(w.bases))
	for k, b := range w.bases {
		clients[k] = newS3(b, w.hc, w.writer.AccessKey, w.writer.SecretKey)
	}
	next := make([]int, w.keys)
	for stop.Err() == nil {
		j := rng.IntN(w.keys)
		key := keyName(i, j)
		next[j]++
		op := WriteOp{Key: key, Seq: next[j], Node: 1 + rng.IntN(len(w.bases))}
		op.Delete = next[j] > 1 && rng.IntN(10) == 0
		c := clients[op.Node-1]
		ctx, cancel := context.WithTimeout(hard, requestTimeout)
		var err error
		if op.Delete {
			op.Sent = w.clk.now()
			_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &w.bucket, Key: &key})
		} else {
			b := body(key, op.Seq, rng)
			op.Sum, op.Size = sha256.Sum256(b), len(b)
			w.sums.Store(sumKey(key, op.Seq), op.Sum)
			op.Sent = w.clk.now()
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &w.bucket, Key: &key, Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b)))})
		}
		op.Answered = w.clk.now()
		cancel()
		op.Status, op.Err = sdkStatus(err)
		op.Outcome = classify(op.Status)
		w.hist.addWrite(op)
		if op.Status == 0 {
			pause(stop, 50*time.Millisecond)
		}
	}
}

// readerLoop GETs random keys on random nodes, open loop: one every
// readEvery, whether the earlier ones were answered or not, up to
// readInFlight unanswered per node (slots, shared by the readers), so that
// reads sent while a node is stopped reach it and are answered when it
// resumes, while the other nodes go on being read.
func (w *workload) readerLoop(stop, hard context.Context, i int, slots []chan struct{}) {
	rng := w.rng(200 + uint64(i))
	clients := make([]*s3.Client, len(w.bases))
	for k, b := range w.bases {
		clients[k] = newS3(b, w.hc, w.reader.AccessKey, w.reader.SecretKey)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(readEvery)
	defer t.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case <-t.C:
		}
		key := keyName(rng.IntN(w.writers), rng.IntN(w.keys))
		node := 1 + rng.IntN(len(w.bases))
		select {
		case slots[node-1] <- struct{}{}:
		default:
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.hist.addRead(w.get(hard, clients[node-1], node, key))
			<-slots[node-1]
		}()
	}
}

// readEvery and readInFlight pace the readers.
const (
	readEvery    = 20 * time.Millisecond
	readInFlight = 256
)

// get reads key on node and records what it saw.
func (w *workload) get(hard context.Context, c *s3.Client, node int, key string) ReadOp {
	r := ReadOp{Key: key, Node: node}
	ctx, cancel := context.WithTimeout(hard, requestTimeout)
	defer cancel()
	r.Sent = w.clk.now()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &w.bucket, Key: &key})
	var b []byte
	if err == nil {
		b, err = io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			r.Answered = w.clk.now()
			r.Status, r.Err, r.Outcome = 0, shorten(err.Error()), InDoubt
			return r
		}
	}
	r.Answered = w.clk.now()
	r.Status, r.Err = sdkStatus(err)
	switch r.Status {
	case 200:
		r.Outcome, r.Found = OK, true
		r.Seq, r.BodyOK = w.verify(key, b)
	case 404:
		r.Outcome = OK
	default:
		r.Outcome = classify(r.Status)
	}
	return r
}

// churnLoop changes IAM state all the time: creates users, issues keys,
// changes roles, through random nodes, about three times a second.
func (w *workload) churnLoop(stop, hard context.Context) {
	rng := w.rng(300)
	var ids []string
	roles := []string{"Reader", "Writer", "SuperUser"}
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for n := 0; stop.Err() == nil; {
		select {
		case <-stop.Done():
			return
		case <-t.C:
		}
		node := 1 + rng.IntN(len(w.bases))
		a := AdminOp{Node: node}
		var ans adminAnswer
		var err error
		switch op := rng.IntN(4); {
		case len(ids) < 3 || (op == 0 && len(ids) < 16):
			n++
			a.Kind = "create-user"
			a.Sent = w.clk.now()
			ans, err = w.adm.do(hard, node, "POST", "/api/admin/users", map[string]string{
				"username": fmt.Sprintf("churn_%d", n), "password": "churn-password", "role": roles[rng.IntN(3)]})
			var u user
			if err == nil && ans.Status == 201 && jsonInto(ans.Body, &u) == nil {
				ids = append(ids, u.ID)
			}
		case op == 1:
			a.Kind = "issue-key"
			a.Sent = w.clk.now()
			ans, err = w.adm.do(hard, node, "POST", "/api/admin/users/"+ids[rng.IntN(len(ids))]+"/credentials", nil)
		default:
			a.Kind = "change-role"
			a.Sent = w.clk.now()
			ans, err = w.adm.do(hard, node, "PUT", "/api/admin/users/"+ids[rng.IntN(len(ids))], map[string]string{"role": roles[rng.IntN(3)]})
		}
		a.Answered = w.clk.now()
		if err == nil {
			a.Status = ans.Status
		}
		a.Outcome = classify(a.Status)
		w.hist.addAdmin(a)
	}
}

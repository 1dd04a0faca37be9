package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The probe rounds: a victim user with a key is hammered from every node
// by several goroutines; then its key is revoked, regenerated, the user
// deactivated, deleted or demoted (in turn) through a random node, and the
// hammering goes on. Any request with the old credential sent after the
// acknowledgement A that succeeds breaks the promise (checkRevocations).
//
// The nemesis can hold a round: it asks for one (hold), the round starts
// its hammers and waits, the nemesis injects its fault and kicks the round,
// which then revokes while the fault lasts, after a new leader is elected
// if the old one was taken away. That is how leader pauses overlap
// revocations.

const (
	probeBucket = "s4faults-probe"
	probeObject = "probe-object"
)

// kick is the nemesis telling a held round to revoke now.
type kick struct {
	faulted   int           // the faulted node (0: none)
	newLeader bool          // wait until another node leads first
	until     time.Duration // when the fault is planned to end
}

type prober struct {
	clk    clock
	hist   *History
	hc     *http.Client
	bases  []string
	adm    *admin
	procs  *procs
	rng    *rand.Rand
	hammer int // probe requests in flight per node, at most
	lanes  int // warm connections per node held for after the revocation
	logf   func(format string, args ...any)
	// faultEnd: when the current fault ends (0: none), set by the nemesis.
	faultEnd func() time.Duration

	mu      sync.Mutex
	want    bool          // the nemesis asked for a held round
	armed   chan struct{} // closed by the round once it holds
	kicks   chan kick
	acked   chan time.Duration // a held round's acknowledgement time A
	rounds  int
	skipped int
}

// newProber returns p, ready to run.
func newProber(p *prober) *prober {
	p.kicks = make(chan kick, 1)
	p.acked = make(chan time.Duration, 1)
	return p
}

// hold asks for the next round to wait for a kick once its hammers run;
// it reports whether a round holds within d. After true the caller must
// kick.
func (p *prober) hold(ctx context.Context, d time.Duration) bool {
	select { // a kick nobody took
	case <-p.kicks:
	default:
	}
	select { // an acknowledgement nobody waited for
	case <-p.acked:
	default:
	}
	p.mu.Lock()
	ch := make(chan struct{})
	p.want, p.armed = true, ch
	p.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-ch: // armed at the last moment
		return true
	default:
	}
	p.want, p.armed = false, nil
	return false
}

func (p *prober) kick(k kick) {
	select {
	case p.kicks <- k:
	default:
	}
}

// live are the nodes whose process runs and is not stopped.
func (p *prober) live() []int {
	var out []int
	for k := 1; k <= len(p.bases); k++ {
		if p.procs.running(k) && !p.procs.isStopped(k) {
			out = append(out, k)
		}
	}
	return out
}

func (p *prober) pick(nodes []int) int {
	if len(nodes) == 0 {
		return 1 + p.rng.IntN(len(p.bases))
	}
	return nodes[p.rng.IntN(len(nodes))]
}

// run runs rounds back to back until stop ends.
func (p *prober) run(stop, hard context.Context) {
	for stop.Err() == nil {
		p.rounds++
		p.round(stop, hard, p.rounds)
	}
}

// adminRetry sends an admin request through live nodes until it gets want
// or d passes, recording each try.
func (p *prober) adminRetry(ctx context.Context, kind, method, path string, in any, want int, d time.Duration) (adminAnswer, error) {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		node := p.pick(p.live())
		a := AdminOp{Kind: kind, Node: node, Sent: p.clk.now()}
		ans, err := p.adm.do(ctx, node, method, path, in)
		a.Answered = p.clk.now()
		if err == nil {
			a.Status = ans.Status
		}
		a.Outcome = classify(a.Status)
		p.hist.addAdmin(a)
		if err == nil && ans.Status == want {
			return ans, nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("%d %s", ans.Status, bytes.TrimSpace(ans.Body))
		}
		pause(ctx, 200*time.Millisecond)
	}
	return adminAnswer{}, fmt.Errorf("%s: %v", kind, last)
}

// round is one probe round r: a victim user and key, the hammer over warm
// lanes on every node, the change (revoke, regenerate, deactivate, delete
// or demote) through a random node, the acknowledgement's time, and the
// round's end. It is long because it is one timeline, step after step; its
// parts share the round's clock readings, which the checker compares.
func (p *prober) round(stop, hard context.Context, r int) {
	kind := revokeKinds[(r-1)%len(revokeKinds)]
	// The victim: a Writer with a key (demotion takes its writes away).
	ans, err := p.adminRetry(hard, "victim-create", "POST", "/api/admin/users",
		map[string]string{"username": fmt.Sprintf("victim_%d", r), "password": "victim-password", "role": "Writer"}, 201, 20*time.Second)
	var u user
	if err == nil {
		err = jsonInto(ans.Body, &u)
	}
	var kp keyPair
	if err == nil {
		ans, err = p.adminRetry(hard, "victim-key", "POST", "/api/admin/users/"+u.ID+"/credentials", nil, 201, 20*time.Second)
	}
	if err == nil {
		err = jsonInto(ans.Body, &kp)
	}
	if err != nil {
		p.skipped++
		p.hist.addNote("%s: probe round %d skipped: %v", at(p.clk.now()), r, err)
		pause(stop, time.Second)
		return
	}

	// The hammers, on every node, and the warm lanes held for after the
	// revocation.
	hstop, hcancel := context.WithCancel(hard)
	revoked := make(chan struct{})
	var wg sync.WaitGroup
	reserve := make([]*lanes, len(p.bases))
	var warming sync.WaitGroup
	for k := 1; k <= len(p.bases); k++ {
		c := newS3(p.bases[k-1], p.hc, kp.AccessKey, kp.SecretKey)
		wg.Add(1)
		go func() { defer wg.Done(); p.hammerNode(hstop, hard, revoked, c, r, kind, k, kp.AccessKey) }()
		warming.Add(1)
		go func() {
			defer warming.Done()
			wctx, cancel := context.WithTimeout(hard, 3*time.Second)
			defer cancel()
			reserve[k-1] = newLanes(wctx, p.hc, p.bases[k-1], kp.AccessKey, kp.SecretKey, p.lanes, func(ctx context.Context, c *s3.Client) {
				p.hist.addProbe(probeOnce(ctx, p.clk, c, "ListBuckets", r, k, kp.AccessKey))
			})
		}()
	}

	warming.Wait() // at most 3 s

	// Before the revocation: a held round waits for the nemesis' kick,
	// others let the hammers run a moment.
	revokeVia := 0
	p.mu.Lock()
	held := p.want
	if held {
		close(p.armed)
		p.want, p.armed = false, nil
	}
	p.mu.Unlock()
	if held {
		t := time.NewTimer(15 * time.Second)
		select {
		case k := <-p.kicks:
			revokeVia = p.afterKick(hard, k)
		case <-t.C:
		case <-hard.Done():
		}
		t.Stop()
	} else {
		pause(hard, time.Duration(300+p.rng.IntN(700))*time.Millisecond)
	}
	if revokeVia == 0 {
		revokeVia = p.pick(p.live())
	}

	rev := p.revoke(hard, r, kind, u.ID, kp, revokeVia)
	close(revoked)
	p.hist.addRevocation(rev)
	if held && rev.Outcome == OK {
		select { // the nemesis may end its fault a moment after this
		case p.acked <- rev.Answered:
		default:
		}
	}
	// The lanes: one request each, one every laneStep from now (a stopped
	// node reads them all the moment it resumes).
	for k, l := range reserve { // a lane that could not warm up dials anew
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.close()
			l.fire(hard, laneStep, func(c *s3.Client) {
				op := "ListBuckets"
				if kind == Demote {
					op = "PutObject"
				}
				p.hist.addProbe(probeOnce(hard, p.clk, c, op, r, k+1, kp.AccessKey))
			})
		}()
	}
	p.logf("round %d: %s through %s sent %s, answered %s: %d %s confirmed [%s] lease expired [%s]%s",
		r, kind, nodeName(rev.Node), at(rev.Sent), at(rev.Answered), rev.Status, rev.Outcome, rev.ConfirmedBy, rev.LeaseExpired,
		map[bool]string{true: " (held for a fault)", false: ""}[held])

	// After it: hammer on for 1.5 s, and until 1.5 s after the fault
	// ended.
	base := rev.Answered
	if rev.Outcome != OK {
		base = p.clk.now()
	}
	waitFor(hard, 20*time.Second, 50*time.Millisecond, func() error {
		now := p.clk.now()
		if now < base+1500*time.Millisecond {
			return fmt.Errorf("hammering")
		}
		if end := p.faultEnd(); end > 0 && now < end+1500*time.Millisecond {
			return fmt.Errorf("a fault lasts")
		}
		return nil
	})
	hcancel()
	wg.Wait()
}

// afterKick waits, for a fault that took the leader away, until another
// node leads and is ready (no longer than the fault), then picks the node
// to revoke through: a live node other than the faulted one.
func (p *prober) afterKick(ctx context.Context, k kick) int {
	var others []int
	for _, n := range p.live() {
		if n != k.faulted {
			others = append(others, n)
		}
	}
	if k.newLeader {
		d := k.until - p.clk.now() - 100*time.Millisecond
		if d > 0 {
			waitFor(ctx, d, 25*time.Millisecond, func() error {
				for _, n := range others {
					if h, err := p.adm.ready(ctx, n); err == nil && h.Ready && h.Role == "leader" {
						return nil
					}
				}
				return fmt.Errorf("no new leader")
			})
		}
	} else {
		pause(ctx, time.Duration(p.rng.IntN(500))*time.Millisecond)
	}
	return p.pick(others)
}

// revoke sends the round's revocation through node and records it.
func (p *prober) revoke(ctx context.Context, r int, kind RevokeKind, userID string, kp keyPair, node int) Revocation {
	rev := Revocation{Round: r, Kind: kind, User: userID, AccessKey: kp.AccessKey, Secret: kp.SecretKey, Node: node}
	path := "/api/admin/users/" + userID
	var method string
	var in any
	switch kind {
	case Revoke:
		method, path = "DELETE", path+"/credentials"
	case Regenerate:
		method, path = "POST", path+"/credentials"
	case Deactivate:
		method, in = "PUT", map[string]any{"is_active": false}
	case DeleteUser:
		method = "DELETE"
	case Demote:
		method, in = "PUT", map[string]any{"role": "Reader"}
	}
	rctx, cancel := context.WithTimeout(ctx, 2*requestTimeout)
	defer cancel()
	rev.Sent = p.clk.now()
	ans, err := p.adm.do(rctx, node, method, path, in)
	rev.Answered = p.clk.now()
	if err != nil {
		rev.Err = shorten(err.Error())
	} else {
		rev.Status = ans.Status
		rev.ConfirmedBy = ans.Header.Get("X-S4-Confirmed-By")
		rev.LeaseExpired = ans.Header.Get("X-S4-Lease-Expired")
		if ans.Status >= 300 {
			rev.Err = shorten(string(bytes.TrimSpace(ans.Body)))
		}
	}
	rev.Outcome = classify(rev.Status)
	if kind == Regenerate && rev.Outcome == OK {
		var kp keyPair
		if jsonInto(ans.Body, &kp) == nil {
			rev.NewKey, rev.NewSecret = kp.AccessKey, kp.SecretKey
		}
	}
	return rev
}

// hammerNode sends requests with the victim's key to one node until stop
// ends: ListBuckets and GetObject, or PutObject and GetObject in a
// demotion round (a Reader may still read). Open loop: a new request every
// hammerEvery whether the earlier ones were answered or not, up to
// p.hammer in flight; once revoked is closed (the revocation was answered)
// with a fresh allowance of p.hammer, so that requests sent after the
// acknowledgement reach a node that is stopped, with its allowance spent
// by requests from before, and wait there for it to resume.
func (p *prober) hammerNode(stop, hard context.Context, revoked <-chan struct{}, c *s3.Client, r int, kind RevokeKind, node int, accessKey string) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, p.hammer)
	t := time.NewTicker(hammerEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop.Done():
			return
		case <-revoked:
			slots, revoked = make(chan struct{}, p.hammer), nil
			continue
		case <-t.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			continue // p.hammer in flight: skip this tick
		}
		op := "GetObject"
		if i%2 == 0 {
			op = "ListBuckets"
			if kind == Demote {
				op = "PutObject"
			}
		}
		wg.Add(1)
		go func(slots chan struct{}) {
			defer wg.Done()
			p.hist.addProbe(probeOnce(hard, p.clk, c, op, r, node, accessKey))
			<-slots
		}(slots)
	}
}

// hammerEvery is the interval between probe requests to one node.
const hammerEvery = 10 * time.Millisecond

// probeOnce sends one request of op with a victim's key.
func probeOnce(hard context.Context, clk clock, c *s3.Client, op string, r, node int, accessKey string) ProbeReq {
	req := ProbeReq{Round: r, AccessKey: accessKey, Op: op, Node: node}
	ctx, cancel := context.WithTimeout(hard, requestTimeout)
	defer cancel()
	req.Sent = clk.now()
	var err error
	switch op {
	case "ListBuckets":
		_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
	case "GetObject":
		var out *s3.GetObjectOutput
		out, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(probeBucket), Key: aws.String(probeObject)})
		if err == nil {
			_, err = io.Copy(io.Discard, out.Body)
			out.Body.Close()
			if err != nil { // an answer began: it was accepted
				err = nil
			}
		}
	case "PutObject":
		b := []byte(fmt.Sprintf("round %d from n%d", r, node))
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(probeBucket), Key: aws.String(fmt.Sprintf("victim-%d", r)),
			Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b)))})
	}
	req.Answered = clk.now()
	req.Status, req.Err = sdkStatus(err)
	return req
}

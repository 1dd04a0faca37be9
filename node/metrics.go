package node

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/s4/s4/accesslog"
	"github.com/s4/s4/admin"
	"github.com/s4/s4/cluster"
	"github.com/s4/s4/lease"
	"github.com/s4/s4/metrics"
	"github.com/s4/s4/s3"
)

// GET /metrics: the node's Prometheus metrics (package metrics holds the
// registry and what the request paths count; this file adds what is read
// from the node at scrape time: Raft, the leases, the FSM, the disk, the
// blob store) and the scrape's authorization.
//
// A scrape needs a scrape token (Authorization: Bearer s4mt_…) unless
// Config.MetricsPublic. Tokens are IAM state (iam/scrapetoken.go), looked
// up by their SHA-256; a revoke goes through the revocation barrier, so
// once it is acknowledged every node either applied it or its lease has
// run out. A node that may not serve from its state now (starting,
// fenced: its state may lack a revoke) therefore answers a token's scrape
// 503, as it answers S3; with MetricsPublic it always answers.

// observability is the node's metrics and access log.
type observability struct {
	metrics       *metrics.Registry
	access        *accesslog.Logger // nil: off
	leaderChanges atomic.Uint64
	blobScan      atomic.Pointer[blobScan] // the last walk of the blob store
	blobScanning  atomic.Bool
}

// blobScan is what a walk of the blob store found.
type blobScan struct {
	blobs, bytes uint64
	at           time.Time
}

// blobScanEvery is how often the blob store is walked for its size, at
// most, and only while someone scrapes: a walk reads every blob's
// directory entry.
const blobScanEvery = 5 * time.Minute

var metricsPath = []byte("/metrics")

// isScrape reports whether a request for /metrics is a scrape rather than
// an S3 request for a bucket named "metrics": a GET with no query and no
// S3 credential (no Authorization, or a Bearer token). S3 requests are
// signed (AWS4-HMAC-SHA256, AWS) or presigned (a query).
func isScrape(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsGet() || len(ctx.URI().QueryString()) > 0 {
		return false
	}
	auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	return len(auth) == 0 || len(auth) >= 6 && strings.EqualFold(string(auth[:6]), "bearer")
}

// openObservability builds the registry and, with Config.AccessLog, the
// access log; Open calls it once the node's ID is known.
func (n *Node) openObservability() {
	n.obs.metrics = metrics.New(s3.OperationNames())
	if n.cfg.AccessLog != nil {
		n.obs.access = accesslog.New(n.cfg.AccessLog, string(n.id))
	}
}

// startObservability registers the node's collector and counts leader
// changes; Open calls it once Raft runs.
func (n *Node) startObservability() {
	n.obs.metrics.Register(newNodeCollector(n))
	n.wg.Add(1)
	go n.countLeaderChanges()
}

// closeAccessLog writes the access log's last lines (after HTTP stopped).
func (n *Node) closeAccessLog() error {
	if n.obs.access == nil {
		return nil
	}
	return n.obs.access.Close()
}

// Metrics returns the node's metrics registry.
func (n *Node) Metrics() *metrics.Registry { return n.obs.metrics }

// serveMetrics answers GET /metrics.
func (n *Node) serveMetrics(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if !n.cfg.MetricsPublic && !n.scrapeAllowed(ctx) {
		return
	}
	var buf bytes.Buffer
	if err := n.obs.metrics.Write(&buf); err != nil {
		n.log.Warn("metrics: gathering failed in part", "err", err)
	}
	ctx.SetContentType(metrics.ContentType)
	ctx.SetBody(buf.Bytes())
}

// scrapeAllowed checks the scrape token; otherwise it answers 401 (no or
// an unknown token) or 503 (this node may not answer from its state now)
// and returns false.
func (n *Node) scrapeAllowed(ctx *fasthttp.RequestCtx) bool {
	tok := bytes.TrimSpace(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if len(tok) > 7 && strings.EqualFold(string(tok[:7]), "bearer ") {
		tok = bytes.TrimSpace(tok[7:])
	} else {
		tok = nil
	}
	if len(tok) == 0 || len(tok) > 256 {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="s4-metrics"`)
		writeMetricsError(ctx, fasthttp.StatusUnauthorized, "a scrape token is required (Authorization: Bearer s4mt_...; create one with s4 admin metrics token create)")
		return false
	}
	if err := n.ServeS3(); err != nil {
		ctx.Response.Header.Set("Retry-After", "1")
		writeMetricsError(ctx, fasthttp.StatusServiceUnavailable, "this node cannot check scrape tokens now (starting, or out of contact with the leader)")
		return false
	}
	if _, ok := n.fsm.ScrapeTokenByHash(admin.ScrapeTokenHash(tok)); !ok {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="s4-metrics", error="invalid_token"`)
		writeMetricsError(ctx, fasthttp.StatusUnauthorized, "unknown or revoked scrape token")
		return false
	}
	return true
}

func writeMetricsError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(msg + "\n")
}

// timedBarrier is the revocation barrier, observed: how long it took from
// the event's apply on this leader, and how each other voter was passed.
func (n *Node) timedBarrier(idx uint64, appliedAt lease.Time) *cluster.Barrier {
	b := n.barrier(idx, appliedAt)
	n.obs.metrics.Barrier.Observe(n.clock.Now().Sub(appliedAt), len(b.Confirmed)-1, len(b.LeaseExpired))
	return b
}

// countLeaderChanges counts the leaders this node saw take over.
func (n *Node) countLeaderChanges() {
	defer n.wg.Done()
	obs := make(chan raft.Observation, 16)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(o)
	defer n.raft.DeregisterObserver(o)
	// A leader elected before the observer was registered (a single node
	// elects itself at once) sent no observation here: count it now.
	var last raft.ServerID
	if _, id := n.raft.LeaderWithID(); id != "" {
		last = id
		n.obs.leaderChanges.Add(1)
	}
	for {
		select {
		case <-n.closing:
			return
		case ob := <-obs:
			if lo, ok := ob.Data.(raft.LeaderObservation); ok && lo.LeaderID != "" && lo.LeaderID != last {
				last = lo.LeaderID
				n.obs.leaderChanges.Add(1)
			}
		}
	}
}

// scanBlobs walks the blob store for its size, unless a walk runs or ran
// within blobScanEvery.
func (n *Node) scanBlobs() {
	if last := n.obs.blobScan.Load(); last != nil && time.Since(last.at) < blobScanEvery {
		return
	}
	if !n.obs.blobScanning.CompareAndSwap(false, true) {
		return
	}
	select {
	case <-n.closing:
		n.obs.blobScanning.Store(false)
		return
	default:
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.obs.blobScanning.Store(false)
		var s blobScan
		errStop := errors.New("closing")
		err := n.blobs.Walk(func(_ [32]byte, size int64) error {
			select {
			case <-n.closing:
				return errStop
			default:
			}
			s.blobs++
			s.bytes += uint64(size)
			return nil
		})
		if err != nil {
			if !errors.Is(err, errStop) {
				n.log.Warn("metrics: walking the blob store failed", "err", err)
			}
			return
		}
		s.at = time.Now()
		n.obs.blobScan.Store(&s)
	}()
}

// nodeCollector reads the node's state at scrape time.
type nodeCollector struct {
	n *Node

	info, ready, serving, fenced                    *prometheus.Desc
	raftState, term, commit, raftApplied, lastIndex *prometheus.Desc
	lastContact, leaderChanges, voters              *prometheus.Desc
	fsmApplied, authIndex, events                   *prometheus.Desc
	leaseHeld, grantAge, grantLeft                  *prometheus.Desc
	leaderLeaseHeld, leaderLeaseLeft                *prometheus.Desc
	users, credentials, scrapeTokens                *prometheus.Desc
	diskTotal, diskFree, diskReserve, diskAtReserve *prometheus.Desc
	blobBytes, blobCount, blobScanned               *prometheus.Desc
}

func newNodeCollector(n *Node) *nodeCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metrics.Namespace+"_"+name, help, labels, nil)
	}
	return &nodeCollector{
		n:       n,
		info:    d("node_info", "This node's ID (always 1).", "node"),
		ready:   d("node_ready", "1 once the node caught up with the log (ready is once and for all)."),
		serving: d("node_serving", "1 while the node may answer S3 and admin requests from its state (its lease holds)."),
		fenced:  d("node_fenced", "1 while a ready node may not answer from its state: it refuses S3 and admin requests with 503."),

		raftState:     d("raft_state", "The node's Raft state (1 for the current one).", "state"),
		term:          d("raft_term", "The node's current Raft term."),
		commit:        d("raft_commit_index", "The highest log index the node knows committed."),
		raftApplied:   d("raft_applied_index", "The highest log index Raft handed to the FSM."),
		lastIndex:     d("raft_last_log_index", "The last index in the node's log."),
		lastContact:   d("raft_last_contact_seconds", "Seconds since a follower last heard from its leader (not on the leader)."),
		leaderChanges: d("raft_leader_changes_total", "Leaders this node saw take over since it started."),
		voters:        d("raft_voters", "Voters in the Raft configuration."),

		fsmApplied: d("fsm_applied_index", "The last log index the FSM applied (or restored)."),
		authIndex:  d("fsm_auth_index", "The index of the last IAM event the FSM applied: what a follower's lease requires."),
		events:     d("fsm_events_applied_total", "Events the FSM applied since the node started (replay included), by event and kind (iam, metadata).", "event", "kind"),

		leaseHeld:       d("auth_lease_held", "A follower: 1 while it holds a grant whose index it applied (its auth lease)."),
		grantAge:        d("auth_lease_grant_age_seconds", "A follower: seconds since it asked for its newest grant."),
		grantLeft:       d("auth_lease_remaining_seconds", "A follower: seconds its newest grant still holds (0 once it ran out)."),
		leaderLeaseHeld: d("leader_lease_held", "The leader: 1 while its leader lease holds and its hand-over is done."),
		leaderLeaseLeft: d("leader_lease_remaining_seconds", "The leader: seconds its leader lease still holds."),

		users:        d("iam_users", "Users in the IAM state."),
		credentials:  d("iam_credentials", "Access keys in the auth index."),
		scrapeTokens: d("iam_scrape_tokens", "Scrape tokens of GET /metrics."),

		diskTotal:     d("disk_total_bytes", "Size of the data dir's file system."),
		diskFree:      d("disk_free_bytes", "Bytes available to the node on the data dir's file system."),
		diskReserve:   d("disk_reserve_bytes", "The free-space reserve: at it, object writes answer 507."),
		diskAtReserve: d("disk_at_reserve", "1 while the node is at its free-space reserve."),

		blobBytes:   d("blob_store_bytes", "Bytes of the blobs in this node's blob store (from the latest walk, at most every 5 minutes while scraped)."),
		blobCount:   d("blob_store_blobs", "Blobs in this node's blob store (from the latest walk)."),
		blobScanned: d("blob_store_scan_timestamp_seconds", "When the latest walk of the blob store ended (Unix time)."),
	}
}

// Describe implements prometheus.Collector.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.ready, c.serving, c.fenced, c.raftState, c.term, c.commit,
		c.raftApplied, c.lastIndex, c.lastContact, c.leaderChanges, c.voters, c.fsmApplied, c.authIndex, c.events,
		c.leaseHeld, c.grantAge, c.grantLeft, c.leaderLeaseHeld, c.leaderLeaseLeft, c.users, c.credentials,
		c.scrapeTokens, c.diskTotal, c.diskFree, c.diskReserve, c.diskAtReserve, c.blobBytes, c.blobCount, c.blobScanned} {
		ch <- d
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collect implements prometheus.Collector.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	count := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(c.info, 1, string(n.id))
	ready, serving := n.ready.Load(), n.serving()
	gauge(c.ready, boolValue(ready))
	gauge(c.serving, boolValue(ready && serving))
	gauge(c.fenced, boolValue(ready && !serving))

	state := n.raft.State()
	for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown} {
		gauge(c.raftState, boolValue(state == s), strings.ToLower(s.String()))
	}
	gauge(c.term, float64(n.raft.CurrentTerm()))
	gauge(c.commit, float64(n.raft.CommitIndex()))
	gauge(c.raftApplied, float64(n.raft.AppliedIndex()))
	gauge(c.lastIndex, float64(n.raft.LastIndex()))
	if state != raft.Leader {
		if lc := n.raft.LastContact(); !lc.IsZero() {
			gauge(c.lastContact, time.Since(lc).Seconds())
		}
	}
	count(c.leaderChanges, float64(n.obs.leaderChanges.Load()))
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		voters := 0
		for _, srv := range f.Configuration().Servers {
			if srv.Suffrage == raft.Voter {
				voters++
			}
		}
		gauge(c.voters, float64(voters))
	}

	gauge(c.fsmApplied, float64(n.fsm.AppliedIndex()))
	gauge(c.authIndex, float64(n.fsm.AuthIndex()))
	n.fsm.EventsApplied(func(name string, iam bool, v uint64) {
		kind := "metadata"
		if iam {
			kind = "iam"
		}
		count(c.events, float64(v), name, kind)
	})

	now := n.clock.Now()
	if term, ok := n.leadingTerm(); ok {
		gauge(c.leaderLeaseHeld, boolValue(n.lead.Valid(term)))
		gauge(c.leaderLeaseLeft, n.lead.Left(term).Seconds())
	} else {
		gauge(c.leaseHeld, boolValue(n.follower.Serving(n.fsm.AppliedIndex())))
		if g, ok := n.follower.Newest(); ok {
			gauge(c.grantAge, now.Sub(g.Asked).Seconds())
			gauge(c.grantLeft, max(g.Until.Sub(now), 0).Seconds())
		}
	}

	st := n.fsm.State()
	gauge(c.users, float64(st.NumUsers()))
	gauge(c.credentials, float64(st.NumCredentials()))
	gauge(c.scrapeTokens, float64(st.NumScrapeTokens()))

	if n.disk != nil {
		ds := n.disk.Status()
		gauge(c.diskTotal, float64(ds.Total))
		gauge(c.diskFree, float64(ds.Free))
		gauge(c.diskReserve, float64(ds.Reserve))
		gauge(c.diskAtReserve, boolValue(ds.AtReserve))
	}

	n.scanBlobs()
	if s := n.obs.blobScan.Load(); s != nil {
		gauge(c.blobBytes, float64(s.bytes))
		gauge(c.blobCount, float64(s.blobs))
		gauge(c.blobScanned, float64(s.at.UnixNano())/1e9)
	}
}

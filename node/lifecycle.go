package node

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/s4/s4/fsm"
	"github.com/s4/s4/meta"
	"github.com/s4/s4/s3"
)

// The lifecycle evaluator: buckets' lifecycle rules (meta/lifecycle.go,
// set by PutBucketLifecycleConfiguration) applied by the leader.
//
//   - Only the leader runs it, and only while it may serve from its state
//     (leaderServing: its lease holds, the hand-over is done): a follower,
//     or a leader that lost its lease, never evaluates nor proposes. It
//     appends through its own Raft (Node.Apply), never forwarding, so an
//     evaluation that loses leadership half-way proposes nothing more.
//   - It runs every LifecycleInterval (aligned to LifecycleAt, a time of
//     day in UTC, when that is set). A run walks every bucket with a
//     configuration, in key order, a page at a time, and decides from its
//     own state and the wall clock which objects' Expiration and which
//     uploads' AbortIncompleteMultipartUpload came.
//   - What it decides is a LifecycleExpire event per batch of at most
//     lifecycleBatch versions and uploads of one bucket, through the log, so
//     every node deletes the same objects at the same index. The apply is
//     conditional (meta.Store.Expire): a version is expired only if it is
//     still the one the evaluator saw (version ID, ETag, LastModified); one
//     overwritten in between is kept (and evaluated again at the next run).
//   - Batches are paced (lifecyclePause between two), so that a million
//     expiring objects are a stream of small entries that IAM events and
//     writes interleave with, not one that stalls them.
//   - S3's rule for days: an object expires at the start of the day (midnight
//     UTC) after LastModified plus Days, rounded up (meta.DueAfterDays);
//     LifecycleDay sets the length of a day (tests use a second).
//   - In a bucket whose versioning was ever enabled, Expiration hides the
//     latest version behind a new delete marker, NoncurrentVersionExpiration
//     deletes noncurrent versions, ExpiredObjectDeleteMarker removes lone
//     delete markers (versions, below).

const (
	// lifecycleBatch bounds one LifecycleExpire: at most this many objects
	// and uploads (keys of at most 1 KiB: under 150 KiB an event).
	lifecycleBatch = 128
	// lifecyclePause is the pause between two batches: at most about
	// 128 / 20 ms = 6,400 expirations a second.
	lifecyclePause = 20 * time.Millisecond
	// lifecyclePage is how many keys one read of a listing takes.
	lifecyclePage = 1000
)

// lifecycleEval is the evaluator's state on a node.
type lifecycleEval struct {
	runs atomic.Uint64 // runs this node made (as the leader)
	// beforePropose, when set (tests), is called with each event before it
	// is proposed.
	beforePropose atomic.Pointer[func(ev *fsm.LifecycleExpire)]
}

// parseTimeOfDay parses --lifecycle-at: "HH:MM" or "HH:MM:SS", UTC.
func parseTimeOfDay(s string) (time.Duration, error) {
	for _, layout := range []string{"15:04", "15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second, nil
		}
	}
	return 0, fmt.Errorf("node: --lifecycle-at %q is not a time of day (HH:MM, UTC)", s)
}

// nextLifecycleRun is the first run time after now: every interval from
// the start, or, with at, at the times of day at + k × interval (UTC,
// counted from the Unix epoch: with a 24 h interval, once a day at at).
func nextLifecycleRun(now time.Time, interval, at time.Duration, hasAt bool) time.Time {
	if !hasAt {
		return now.Add(interval)
	}
	base := time.Unix(0, 0).UTC().Add(at % interval)
	k := now.Sub(base)/interval + 1
	next := base.Add(k * interval)
	for !next.After(now) { // sub-nanosecond rounding cannot leave it at now, but be sure
		next = next.Add(interval)
	}
	return next
}

// startLifecycle starts the evaluator's loop.
func (n *Node) startLifecycle() {
	at, hasAt := time.Duration(0), n.cfg.LifecycleAt != ""
	if hasAt {
		at, _ = parseTimeOfDay(n.cfg.LifecycleAt) // checked by Validate
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			t := time.NewTimer(time.Until(nextLifecycleRun(time.Now(), n.cfg.LifecycleInterval, at, hasAt)))
			select {
			case <-n.closing:
				t.Stop()
				return
			case <-t.C:
			}
			if n.leaderServing() {
				n.runLifecycle()
			}
		}
	}()
}

// runLifecycle is one run of the evaluator, on the leader.
func (n *Node) runLifecycle() {
	ctx, cancel := n.untilClose(context.Background())
	defer cancel(nil)
	n.lc.runs.Add(1)
	n.obs.metrics.Lifecycle.Run()
	start := time.Now()
	r := lifecycleRun{n: n, ctx: ctx, now: start.UnixNano(), day: n.cfg.LifecycleDay.Nanoseconds()}
	buckets := n.meta.LifecycleBuckets()
	for _, bucket := range buckets {
		if err := r.bucket(bucket); err != nil {
			n.log.Warn("lifecycle: run stopped; the next run goes on", "err", err, "buckets", len(buckets),
				"expired", r.expired, "aborted", r.aborted, "events", r.events)
			return
		}
	}
	n.log.Info("lifecycle: run done", "buckets", len(buckets), "expired", r.expired, "noncurrent", r.noncurrent,
		"delete_markers", r.markers, "aborted", r.aborted,
		"kept", r.kept, "events", r.events, "took", time.Since(start).Round(time.Millisecond))
}

// lifecycleRun is one run's state.
type lifecycleRun struct {
	n                      *Node
	ctx                    context.Context
	now, day               int64 // Unix nanoseconds; a day's length
	batch                  fsm.LifecycleExpire
	expired, aborted, kept int // what the applied events did; kept: evaluated but not expired (overwritten, gone)
	noncurrent, markers    int // noncurrent versions deleted, lone delete markers removed
	events                 int
}

// bucket evaluates one bucket's rules and proposes what came due.
func (r *lifecycleRun) bucket(bucket string) error {
	lc := r.n.meta.BucketLifecycle(bucket)
	info, ok := r.n.meta.Bucket(bucket)
	if lc == nil || !ok {
		return nil
	}
	var expiring, markers, noncurrent, aborting []*meta.LifecycleRule
	for i := range lc.Rules {
		rule := &lc.Rules[i]
		if !rule.Enabled {
			continue
		}
		if rule.ExpirationDays > 0 || rule.ExpirationDate != nil {
			expiring = append(expiring, rule)
		}
		if rule.ExpiredObjectDeleteMarker != nil && *rule.ExpiredObjectDeleteMarker {
			markers = append(markers, rule)
		}
		if rule.NoncurrentDays > 0 {
			noncurrent = append(noncurrent, rule)
		}
		if rule.AbortDays > 0 {
			aborting = append(aborting, rule)
		}
	}
	r.batch = fsm.LifecycleExpire{Bucket: bucket}
	var err error
	switch {
	case info.Versioning == "" && len(expiring) > 0:
		err = r.objects(bucket, expiring)
	case info.Versioning != "" && len(expiring)+len(markers)+len(noncurrent) > 0:
		err = r.versions(bucket, info.Versioning == meta.VersioningEnabled, expiring, markers, noncurrent)
	}
	if err != nil {
		return err
	}
	if len(aborting) > 0 {
		for _, u := range r.n.meta.Uploads(bucket, commonPrefix(aborting)) {
			if r.uploadDue(aborting, &u) {
				r.batch.Uploads = append(r.batch.Uploads, u.UploadID)
				if err := r.flushIfFull(); err != nil {
					return err
				}
			}
		}
	}
	return r.flush()
}

// objects walks an unversioned bucket: an object that expired is deleted.
func (r *lifecycleRun) objects(bucket string, expiring []*meta.LifecycleRule) error {
	prefix, after := commonPrefix(expiring), ""
	for {
		page, ok := r.n.meta.List(bucket, prefix, after, "", lifecyclePage)
		if !ok {
			return nil // deleted meanwhile
		}
		for i := range page.Objects {
			e := &page.Objects[i]
			if r.objectDue(expiring, e.Key, &e.Object) {
				r.batch.Objects = append(r.batch.Objects, meta.ObjectExpiry{Key: e.Key, ETag: e.Object.ETag, LastModified: e.Object.LastModified})
				if err := r.flushIfFull(); err != nil {
					return err
				}
			}
		}
		if !page.IsTruncated {
			return nil
		}
		after = page.NextMarker
	}
}

// versions walks a versioned bucket's versions, each key's newest first
// (S3's rules):
//   - the latest version, not a delete marker, that Expiration selects is
//     hidden by a new delete marker (its ID chosen here, in an Enabled
//     bucket; the null version in a Suspended one);
//   - a noncurrent version is deleted for good NoncurrentDays after it
//     became noncurrent (when the version after it was made), unless it is
//     one of the NewerNoncurrentVersions newest noncurrent versions;
//   - a delete marker that is the latest and only version of its key is
//     removed (ExpiredObjectDeleteMarker).
func (r *lifecycleRun) versions(bucket string, enabled bool, expiring, markers, noncurrent []*meta.LifecycleRule) error {
	prefix := commonPrefix(append(append(append([]*meta.LifecycleRule(nil), expiring...), markers...), noncurrent...))
	var (
		newerLM    int64         // LastModified of the version after the one at hand
		older      int           // noncurrent versions of the key seen so far
		loneMarker *meta.Version // the key's latest, a delete marker, with no other version seen yet
	)
	finish := func() error {
		m := loneMarker
		loneMarker = nil
		if m != nil && matchesAny(markers, m.Key, &m.Object) {
			r.batch.Markers = append(r.batch.Markers, meta.VersionExpiry{Key: m.Key, VersionID: meta.VersionIDOf(&m.Object), LastModified: m.Object.LastModified})
			return r.flushIfFull()
		}
		return nil
	}
	keyMarker, idMarker := "", ""
	for {
		page, ok := r.n.meta.ListVersions(bucket, prefix, keyMarker, idMarker, "", lifecyclePage)
		if !ok {
			return nil
		}
		for i := range page.Versions {
			v := &page.Versions[i]
			obj := &v.Object
			if v.IsLatest { // a key's versions start with its latest
				if err := finish(); err != nil {
					return err
				}
				older = 0
			}
			switch {
			case v.IsLatest && obj.DeleteMarker:
				vc := *v
				loneMarker = &vc
			case v.IsLatest:
				if r.objectDue(expiring, v.Key, obj) {
					e := meta.ObjectExpiry{Key: v.Key, ETag: obj.ETag, LastModified: obj.LastModified, VersionID: meta.VersionIDOf(obj)}
					if enabled {
						e.MarkerID = s3.NewVersionID()
					}
					r.batch.Objects = append(r.batch.Objects, e)
				}
			default:
				loneMarker = nil
				older++
				if r.noncurrentDue(noncurrent, v.Key, obj, older, newerLM) {
					r.batch.Noncurrent = append(r.batch.Noncurrent, meta.VersionExpiry{Key: v.Key, VersionID: meta.VersionIDOf(obj), ETag: obj.ETag, LastModified: obj.LastModified})
				}
			}
			newerLM = obj.LastModified
			if err := r.flushIfFull(); err != nil {
				return err
			}
		}
		if !page.IsTruncated {
			return finish()
		}
		keyMarker, idMarker = page.NextKeyMarker, page.NextVersionIDMarker
	}
}

// matchesAny reports whether one of rules' filters selects the version.
func matchesAny(rules []*meta.LifecycleRule, key string, obj *meta.ObjectMeta) bool {
	for _, rule := range rules {
		if rule.Matches(key, obj.Size, obj.Tags) {
			return true
		}
	}
	return false
}

// objectDue reports whether one of rules expires the object now.
func (r *lifecycleRun) objectDue(rules []*meta.LifecycleRule, key string, obj *meta.ObjectMeta) bool {
	for _, rule := range rules {
		if !rule.Matches(key, obj.Size, obj.Tags) {
			continue
		}
		var due int64
		if rule.ExpirationDate != nil {
			due = meta.DateDue(*rule.ExpirationDate)
		} else {
			due = meta.DueAfterDays(obj.LastModified, rule.ExpirationDays, r.day)
		}
		if due <= r.now {
			return true
		}
	}
	return false
}

// noncurrentDue reports whether one of rules deletes a noncurrent version
// now: the nth newest noncurrent version of its key, noncurrent since
// since (Unix nanoseconds).
func (r *lifecycleRun) noncurrentDue(rules []*meta.LifecycleRule, key string, obj *meta.ObjectMeta, nth int, since int64) bool {
	for _, rule := range rules {
		if nth > rule.NewerNoncurrentVersions && rule.Matches(key, obj.Size, obj.Tags) &&
			meta.DueAfterDays(since, rule.NoncurrentDays, r.day) <= r.now {
			return true
		}
	}
	return false
}

// uploadDue reports whether one of rules aborts the upload now.
func (r *lifecycleRun) uploadDue(rules []*meta.LifecycleRule, u *meta.UploadInfo) bool {
	for _, rule := range rules {
		if strings.HasPrefix(u.Key, rule.Prefix) && meta.DueAfterDays(u.Initiated, rule.AbortDays, r.day) <= r.now {
			return true
		}
	}
	return false
}

func (r *lifecycleRun) flushIfFull() error {
	if r.batch.Size() < lifecycleBatch {
		return nil
	}
	return r.flush()
}

// flush proposes the batch, if any, through this node's own Raft, while
// it still may serve as the leader, then pauses.
func (r *lifecycleRun) flush() error {
	if r.batch.Size() == 0 {
		return nil
	}
	ev := r.batch
	r.batch = fsm.LifecycleExpire{Bucket: ev.Bucket}
	if !r.n.leaderServing() {
		return ErrNotLeader
	}
	ev.At = time.Now().UnixNano()
	if hook := r.n.lc.beforePropose.Load(); hook != nil {
		(*hook)(&ev)
	}
	cmd, err := fsm.Encode(fsm.MsgLifecycleExpire, &ev)
	if err != nil {
		return err
	}
	_, resp, err := r.n.Apply(r.ctx, cmd)
	if err != nil {
		return err
	}
	res, ok := resp.(*fsm.LifecycleResult)
	if !ok {
		return fmt.Errorf("lifecycle: expiring in bucket %s: %v", ev.Bucket, resp)
	}
	r.events++
	r.expired += res.Expired
	r.noncurrent += res.Noncurrent
	r.markers += res.Markers
	r.aborted += res.Aborted
	r.kept += ev.Size() - res.Expired - res.Noncurrent - res.Markers - res.Aborted
	r.n.obs.metrics.Lifecycle.Applied(res.Expired, res.Noncurrent, res.Markers, res.Aborted)
	select {
	case <-r.ctx.Done():
		return ErrClosed
	case <-time.After(lifecyclePause):
		return nil
	}
}

// commonPrefix is the longest prefix every rule's prefix starts with: the
// part of the bucket a run must list.
func commonPrefix(rules []*meta.LifecycleRule) string {
	p := rules[0].Prefix
	for _, rule := range rules[1:] {
		for !strings.HasPrefix(rule.Prefix, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}

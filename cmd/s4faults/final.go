package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// final makes the observations of the checks after healing: once every
// node is ready and the cluster is quiet, every key on every node, the
// listing of every node, every revoked credential and every regenerated
// key on every node.
type final struct {
	clk   clock
	hist  *History
	hc    *http.Client
	bases []string
	adm   *admin
	wl    *workload
	logf  func(format string, args ...any)
}

// settle waits until every node is ready, at least quietAfter has passed
// since the last write was answered (a write that timed out may still be
// applied within the server's 5 s apply timeout) and no node's applied
// index moved for a second.
func (f *final) settle(ctx context.Context, nm *nemesis, quietAfter time.Duration) error {
	if err := nm.waitAllReady(ctx, 90*time.Second); err != nil {
		return fmt.Errorf("the cluster did not recover after healing: %w", err)
	}
	var last []uint64
	var since time.Time
	return waitFor(ctx, 60*time.Second, 200*time.Millisecond, func() error {
		if f.clk.now() < quietAfter {
			return fmt.Errorf("writes may still apply")
		}
		var now []uint64
		for k := 1; k <= len(f.bases); k++ {
			h, err := f.adm.ready(ctx, k)
			if err != nil || !h.Ready {
				return fmt.Errorf("%s not ready", nodeName(k))
			}
			now = append(now, h.Applied)
		}
		if fmt.Sprint(now) != fmt.Sprint(last) {
			last, since = now, time.Now()
		}
		if time.Since(since) < time.Second {
			return fmt.Errorf("applied indexes still moving: %v", now)
		}
		return nil
	})
}

// retry runs one observation until it has an answer that is not a 5xx or
// d passes.
func retry(ctx context.Context, d time.Duration, try func() (status int, err error)) (int, error) {
	var status int
	var err error
	waitFor(ctx, d, 250*time.Millisecond, func() error {
		status, err = try()
		if status == 0 || status >= 500 {
			return fmt.Errorf("status %d: %v", status, err)
		}
		return nil
	})
	return status, err
}

// observe makes every final observation.
func (f *final) observe(ctx context.Context) {
	readers := make([]*s3.Client, len(f.bases))
	for k, b := range f.bases {
		readers[k] = newS3(b, f.hc, f.wl.reader.AccessKey, f.wl.reader.SecretKey)
	}
	// Every key on every node, eight at a time.
	type job struct {
		key  string
		node int
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				f.hist.mu.Lock()
				f.hist.FinalReads = append(f.hist.FinalReads, f.read(ctx, readers[j.node-1], j.key, j.node))
				f.hist.mu.Unlock()
			}
		}()
	}
	for _, key := range f.wl.allKeys() {
		for k := 1; k <= len(f.bases); k++ {
			jobs <- job{key, k}
		}
	}
	close(jobs)
	wg.Wait()

	for k := 1; k <= len(f.bases); k++ {
		l := f.list(ctx, readers[k-1], k)
		f.hist.mu.Lock()
		f.hist.FinalLists = append(f.hist.FinalLists, l)
		f.hist.mu.Unlock()
	}

	// Every revoked credential, once per node; every regenerated key.
	f.hist.mu.Lock()
	revs := append([]Revocation(nil), f.hist.Revocations...)
	f.hist.mu.Unlock()
	for _, rev := range revs {
		if rev.Outcome != OK {
			continue
		}
		op := "ListBuckets"
		if rev.Kind == Demote {
			op = "PutObject"
		}
		for k := 1; k <= len(f.bases); k++ {
			c := newS3(f.bases[k-1], f.hc, rev.AccessKey, rev.Secret)
			var req ProbeReq
			retry(ctx, 20*time.Second, func() (int, error) {
				req = probeOnce(ctx, f.clk, c, op, rev.Round, k, rev.AccessKey)
				return req.Status, nil
			})
			req.Final = true
			f.hist.addProbe(req)
			if rev.Kind == Regenerate && rev.NewKey != "" {
				nc := newS3(f.bases[k-1], f.hc, rev.NewKey, rev.NewSecret)
				kc := KeyCheck{Round: rev.Round, Node: k}
				retry(ctx, 20*time.Second, func() (int, error) {
					r := probeOnce(ctx, f.clk, nc, "ListBuckets", rev.Round, k, rev.NewKey)
					kc.Status, kc.Err = r.Status, r.Err
					return r.Status, nil
				})
				f.hist.mu.Lock()
				f.hist.KeyChecks = append(f.hist.KeyChecks, kc)
				f.hist.mu.Unlock()
			}
		}
	}
}

// read GETs key on node after healing.
func (f *final) read(ctx context.Context, c *s3.Client, key string, node int) FinalRead {
	fr := FinalRead{Key: key, Node: node}
	status, err := retry(ctx, 30*time.Second, func() (int, error) {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		out, err := c.GetObject(rctx, &s3.GetObjectInput{Bucket: &f.wl.bucket, Key: &key})
		if err != nil {
			st, _ := sdkStatus(err)
			return st, err
		}
		b, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			return 0, err
		}
		fr.Found, fr.Size = true, len(b)
		fr.Seq, fr.BodyOK = f.wl.verify(key, b)
		return 200, nil
	})
	switch status {
	case 200:
	case 404:
		fr.Found = false
	default:
		fr.Found = false
		fr.Err = fmt.Sprintf("status %d: %v", status, err)
	}
	return fr
}

// list is ListObjectsV2 of the workload bucket on node, every page.
func (f *final) list(ctx context.Context, c *s3.Client, node int) FinalList {
	fl := FinalList{Node: node}
	status, err := retry(ctx, 30*time.Second, func() (int, error) {
		keys := map[string]int64{}
		var token *string
		for {
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			out, err := c.ListObjectsV2(rctx, &s3.ListObjectsV2Input{Bucket: &f.wl.bucket, ContinuationToken: token, MaxKeys: aws.Int32(100)})
			cancel()
			if err != nil {
				st, _ := sdkStatus(err)
				return st, err
			}
			for _, o := range out.Contents {
				keys[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			token = out.NextContinuationToken
		}
		fl.Keys = keys
		return 200, nil
	})
	if status != 200 {
		fl.Err = fmt.Sprintf("status %d: %v", status, err)
	}
	return fl
}

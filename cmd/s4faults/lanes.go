package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// lanes are warm connections to one node held in reserve: each lane is an
// S3 client with its own connection pool of one connection, opened (TLS
// handshake done) by a first request and then left idle. A request sent
// on a lane while the node is stopped lies in the socket of an open
// connection, and the node reads it the moment it resumes: before Raft
// had a chance to notice it no longer leads. A request on a new
// connection would wait for its TLS handshake instead, by which time it
// has. That moment is what the auth lease must get right.
type lanes struct {
	clients []*s3.Client
	trs     []*http.Transport
}

// newLanes opens n lanes to endpoint with a key pair; warm sends each
// lane's first request (concurrently) and returns when all have answered
// or ctx ended.
func newLanes(ctx context.Context, hc *http.Client, endpoint, accessKey, secretKey string, n int, warm func(ctx context.Context, c *s3.Client)) *lanes {
	l := &lanes{}
	base := hc.Transport.(*http.Transport)
	for range n {
		tr := base.Clone()
		tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = 1, 1
		l.trs = append(l.trs, tr)
		l.clients = append(l.clients, newS3(endpoint, &http.Client{Transport: tr}, accessKey, secretKey))
	}
	var wg sync.WaitGroup
	for _, c := range l.clients {
		wg.Add(1)
		go func() { defer wg.Done(); warm(ctx, c) }()
	}
	wg.Wait()
	return l
}

// fire sends one request on each lane, one lane every step, each with
// send; it returns when all answered.
func (l *lanes) fire(ctx context.Context, step time.Duration, send func(c *s3.Client)) {
	var wg sync.WaitGroup
	for i, c := range l.clients {
		if i > 0 {
			pause(ctx, step)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); send(c) }()
	}
	wg.Wait()
}

// laneStep is the interval between two lanes' requests.
const laneStep = 10 * time.Millisecond

func (l *lanes) close() {
	for _, tr := range l.trs {
		tr.CloseIdleConnections()
	}
}

//go:build !linux

package lease

import "time"

var start = time.Now()

type systemClock struct{}

func (systemClock) Now() Time { return Time(time.Since(start)) }

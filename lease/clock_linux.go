package lease

import "golang.org/x/sys/unix"

type systemClock struct{}

func (systemClock) Now() Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic("lease: CLOCK_BOOTTIME: " + err.Error()) // Linux ≥ 2.6.39 has it
	}
	return Time(ts.Nano())
}

//go:build !linux

package main

import (
	"errors"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func canMount() bool { return false }

func mountTmpfs(string, int64) error { return errors.New("tmpfs needs Linux") }

func unmount(string) error { return nil }

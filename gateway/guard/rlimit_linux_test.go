package guard

import (
	"syscall"
	"testing"
)

func TestRaiseOpenFiles(t *testing.T) {
	n, err := RaiseOpenFiles()
	if err != nil {
		t.Fatal(err)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur != rl.Max || n != rl.Cur {
		t.Errorf("after RaiseOpenFiles: soft %d hard %d, returned %d; want soft = hard = returned", rl.Cur, rl.Max, n)
	}
}

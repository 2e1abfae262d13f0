package chserver

import "testing"

func TestStartStop(t *testing.T) {
	s := StartForTest(t)
	if s.Addr == "" {
		t.Fatal("no address")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("server still running after Stop")
	}
}

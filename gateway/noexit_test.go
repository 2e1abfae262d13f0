package gateway

import (
	"context"
	"errors"
	"testing"
)

// TestNoExitReason covers every path of noExitReason on a bare
// clientSession: the host closed without an exit status, and whether the
// client's disconnection is named depends on its input having ended and
// on the session being cancelled as the client's within clientGoneGrace.
// The positive path is driven by cancelling from inside the wait, so it
// does not depend on timing (TestClientDisconnectEndsUpstream covers the
// same with a real ssh whose process is killed).
func TestNoExitReason(t *testing.T) {
	const (
		hostClosed = "host closed the session without an exit status"
		clientGone = "client disconnected"
	)
	closed := func() chan struct{} { c := make(chan struct{}); close(c); return c }
	for _, tc := range []struct {
		name      string
		inputDone chan struct{}
		before    error // the session's cause before the call
		during    error // the cause the session gets while noExitReason waits
		want      string
	}{
		{"no input copier", nil, nil, nil, hostClosed},
		{"client still sending", make(chan struct{}), errClientGone, nil, hostClosed},
		{"input ended, client gone before", closed(), errClientGone, nil, clientGone},
		{"input ended, client gone during the call", closed(), nil, errClientGone, clientGone},
		{"input ended, ended for another reason", closed(), nil, errors.New("terminated by bob"), hostClosed},
		{"input ended, client still there", closed(), nil, nil, hostClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			sess := &clientSession{ctx: ctx, cancel: cancel, inputDone: tc.inputDone}
			if tc.before != nil {
				cancel(tc.before)
			}
			got := make(chan string, 1)
			go func() { got <- sess.noExitReason() }()
			if tc.during != nil {
				cancel(tc.during)
			}
			if r := <-got; r != tc.want {
				t.Errorf("noExitReason() = %q; want %q", r, tc.want)
			}
		})
	}
}

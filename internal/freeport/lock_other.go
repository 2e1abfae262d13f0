//go:build !unix

package freeport

import (
	"errors"
	"os"
)

// errBusy says another holder has the port's lock.
var errBusy = errors.New("freeport: port held")

// claimed holds the ports this process handed out: without file locks
// the guarantee is per process.
var claimed = map[int]bool{}

// lockPort claims port within this process; mu is held.
func lockPort(_ string, port int) (*os.File, error) {
	if claimed[port] {
		return nil, errBusy
	}
	claimed[port] = true
	return nil, nil
}

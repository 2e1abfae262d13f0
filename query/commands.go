package query

import (
	"github.com/foureyes/foureyes/cmdline"
	"github.com/foureyes/foureyes/event"
)

// Command is a command line reconstructed from recorded input (or the
// command of an exec session); see cmdline.Command.
type Command = cmdline.Command

// Commands reconstructs the command lines typed in a session with
// cmdline.Commands, the same reconstruction ingest stores for search.
func Commands(events []event.Event) []Command { return cmdline.Commands(events) }

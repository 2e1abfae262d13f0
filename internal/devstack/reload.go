package devstack

import (
	"path/filepath"

	"github.com/foureyes/foureyes/internal/reloadctl"
)

// ConfigFile returns the path of the generated configuration: edits to
// it apply on Reload (SIGHUP to `foureyes dev`) until the next Start,
// which writes it anew.
func (s *Stack) ConfigFile() string { return filepath.Join(s.Dir, "foureyes.yaml") }

// Reload re-reads ConfigFile and applies it to the gateway, as SIGHUP
// does for `foureyes dev`. An invalid file is refused; the running
// configuration stays.
func (s *Stack) Reload() reloadctl.Status {
	return reloadctl.Apply(s.gw, s.ConfigFile(), "SIGHUP", s.log.With("component", "reload"))
}

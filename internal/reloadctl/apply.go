package reloadctl

import (
	"log/slog"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/gateway"
)

// Apply loads and validates the configuration file at path and applies it
// to gw on behalf of by ("SIGHUP"). An invalid file is refused: the error
// is logged and recorded, and the running configuration stays.
func Apply(gw *gateway.Server, path, by string, log *slog.Logger) Status {
	cfg, err := config.Load(path)
	if err == nil {
		err = cfg.ValidateGateway()
	}
	if err != nil {
		log.Error("reload refused; the running configuration stays", "config", path, "err", err)
		gw.ReloadRefused(by, err)
		return Status{Error: err.Error()}
	}
	res, err := gw.Reload(cfg, by)
	if err != nil {
		log.Error("reload refused; the running configuration stays", "config", path, "err", err)
		return Status{Error: err.Error()}
	}
	log.Info("configuration reloaded", "config", path, "changes", res.Changes, "revoked", res.Revoked)
	return Status{OK: true, Changes: res.Changes, NotApplied: res.NotApplied, Revoked: res.Revoked}
}

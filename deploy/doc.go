// Package deploy holds deployment material for operators (example
// configuration, systemd units); see README.md in this directory.
package deploy

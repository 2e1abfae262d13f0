// Package gateway is the SSH front door of foureyes: an SSH server for
// people (github.com/gliderlabs/ssh) and an SSH client to hosts
// (golang.org/x/crypto/ssh). It is a protocol break: the bastion
// terminates the user's SSH connection, opens its own to the host and
// records everything that passes between the two.
//
// # A connection, step by step
//
// Authentication accepts public keys only, checked against the users of
// the configuration; "password" is not even offered, and
// keyboard-interactive only shows a keys-only notice. Refused attempts
// become auth.failure events in the gateway's own recording (a stream of
// kind "gateway" opened by New), together with login, logout,
// access.denied and forward.denied events. Limits (package guard, config
// limits:) apply before and after login: unauthenticated connections are
// capped in total and per source at accept, each has a login grace and a
// number of attempts, user names are bounded, failed logins are
// aggregated per source and lock users and sources out (auth.lockout;
// `unlock` lifts a lock, unlock_cmd.go), channels per connection and
// environment variables per session are capped (channel_limits.go).
//
// The SSH command line says what the user wants:
//
//	ssh alice@bastion                     help: reachable hosts and commands
//	ssh -t alice@bastion demo-prod        interactive shell on demo-prod
//	ssh alice@bastion demo-prod -- CMD    run CMD on demo-prod
//	ssh carol@bastion audit VERB ...      auditor commands (Options.Audit)
//	ssh bob@bastion sessions              four-eyes: what bob may review
//	ssh -t bob@bastion join ID            four-eyes: approve or deny, then watch
//	ssh alice@bastion kill ID             end a live session (roles with kill)
//
// The first word is a host name or a bastion verb; an optional "--"
// follows; the rest is passed to the host verbatim. An unknown or
// forbidden host is refused with one line on stderr and exit status 1.
// The two cases get different messages (`unknown host "x"` and
// `access to "x" denied for alice`): host names are not secrets among
// authenticated staff, and the difference saves them a support call; the
// access.denied event records every attempt either way.
//
// For a host, the gateway starts a recording (kind "shell" or "exec"),
// logs into the host as its configured login with the bastion's client
// key (ClientPublicKey prints the line to install on hosts), checks the
// host's key against the pinned one (hostkey.mismatch on any difference),
// requests the same pty, locale and command, and copies bytes both ways:
// host stdout and stderr to the client's stdout and stderr (recorded as
// output), client input to the host (recorded as input typed by the
// user). Window changes, signals, the client's EOF and the host's exit
// status or exit signal pass through. The session ends when the host's
// command exits, the client goes away, the server shuts down, or the
// recording fails under the host's recording policy
// (config.RecordingPolicy): strict (the default, always for four-eyes
// hosts) terminates a session that can no longer be recorded with a
// message; best_effort lets it go on unrecorded after a one-line warning.
// Either way the failure is logged and a recording.failed event goes to
// the gateway's own stream as soon as that stream can record
// (recfailure.go); a failed gateway stream is replaced by a new one
// (gwstream.go). Stats counts active, pending and unrecorded sessions
// for metrics.
//
// A command without a terminal is not stored byte for byte in two cases
// (exectap.go, package gateway/transfer): a line that is exactly a
// legacy scp, rsync or git server invocation is a file transfer, its
// streams summarised in transfer events (sizes, SHA-256, scp's files)
// unless it stops speaking its protocol; and an ordinary command's
// output past the host's exec_output_cap is summarised in an
// output.summary. Its input is always stored.
//
// # Four-eyes sessions
//
// A host matched by an approval policy gets no connection until a
// reviewer approves (approval.go): the requester gives a reason (prompt
// or FOUREYES_REASON), the session is registered in a registry of hubs
// (hub.go) and listed to entitled reviewers (sessions_cmd.go); `join`
// (join.go) shows the request and takes y/n. Once approved, one hub per
// session fans the host's output out to the participants
// (participant.go: bounded queues, slow watchers skip ahead) and keeps
// the last 64 KiB for late joiners (ring.go); peers' input goes to the
// host attributed to them, with their terminal's own replies removed
// (termsafe.Answerback). What reviewers see is the truth: fields are
// shown byte for byte (termsafe.Quote, Text), the host's output passes
// the audit play rules (liveview.go), the host's pty keeps ECHO on
// (ptymodes.go) and a line typed without echo is announced by its length
// (blind.go). When the last reviewer leaves, the
// requester's input freezes and the policy's on_leave applies. A webhook
// (notify.go) is told about requests and decisions. See
// docs/four-eyes.md.
//
// # Access that changes
//
// A key line's options restrict it (keyopts.go): from= and expiry-time=
// are checked at login and on every new channel, no-pty refuses
// terminals. The configuration in force is one immutable policy behind
// an atomic pointer; Reload (reload.go) swaps it for new connections at
// once and sweeps the live sessions (revoke.go): a session, request or
// reviewer whose user, key, address, role or host no longer allows it
// ends with "access revoked", recorded. The same sweep runs every second
// while a key has an expiry-time. `kill` (kill.go) ends one session on
// an admin's order; session policies (timeouts.go) end idle or
// overlong sessions.
//
// Port, Unix socket, agent and X11 forwarding are refused and recorded.
// Every KeepaliveInterval each connection is probed; a client that leaves
// three probes unanswered is disconnected.
//
// # Usage
//
//	rec, _ := recorder.New(recorder.Config{Gateway: cfg.Gateway.ID, SpoolDir: cfg.Gateway.SpoolDir})
//	srv, err := gateway.New(cfg, gateway.Options{Recorder: rec, Audit: runAudit, Logger: log})
//	if err != nil { ... }
//	go srv.ListenAndServe()
//	...
//	srv.Shutdown(ctx) // sessions see "bastion shutting down"
//	rec.Close()
package gateway

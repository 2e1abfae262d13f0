// Package guard keeps the gateway usable under attack, before and after
// login. It holds the bookkeeping; the gateway decides what to record.
//
//   - Gate caps the connections not yet logged in, everywhere together and
//     per source address; Listener applies it at accept, so an excess
//     connection is closed before the SSH handshake allocates anything.
//   - Lockout counts failed logins per user and per source address in a
//     window and locks them for a while; an admin may lift a lock early.
//   - FailureReporter aggregates failures per source: the first of a burst
//     is to be recorded at once, the rest are counted into one summary per
//     source and interval, so that a flood cannot fill the spool.
//   - SafeName bounds and escapes a client-chosen name before it is
//     logged or recorded.
//
// A source is an IPv4 address or an IPv6 /64 network (one subscriber's
// allocation), so that an IPv6 client cannot escape per-source limits by
// hopping addresses.
package guard

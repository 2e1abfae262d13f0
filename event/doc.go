// Package event defines the wire types of foureyes: the events a recorded
// session is made of, their canonical byte encoding and the per-stream
// SHA-256 hash chain that makes a missing, altered or reordered event
// detectable.
//
// The package does no I/O. The recorder creates events, the spool and Kafka
// carry their JSON encoding, ingest stores their fields as ClickHouse
// columns, and query re-encodes those columns canonically to verify the
// chain. docs/event-schema.md is the normative description; change both
// together and bump Version for any change to the canonical encoding.
package event

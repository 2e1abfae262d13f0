// Package config holds the one YAML configuration format of foureyes, shared
// by `foureyes gateway`, `foureyes ingest` and `foureyes dev`.
//
// Load reads a file, applies the defaults documented beside each field and
// validates the result; Check and CheckFile also apply the requirements of
// the parts (gateway, ingest) the file is for, as `foureyes check-config`
// does. Every problem found is reported in one *Error (wrapping
// ErrInvalid), one line per problem naming the YAML key and the fix; for
// problems of form (unknown keys, values of the wrong type) the line too,
// e.g. "gateway.keepalive_intervall (line 7): unknown key; did you mean
// keepalive_interval?". docs/config.md is the reference for operators.
//
// Secrets (passwords, the webhook secret) may be given in files named by
// *_file keys; a secret file, or a configuration holding a secret, that
// group or others may access is refused (ErrExposedSecret), as sshd
// refuses such keys. The kafka and clickhouse sections carry TLS and SASL
// settings and one ClickHouse user per part (ClickHouse.As).
package config

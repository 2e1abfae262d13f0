// Package config holds the one YAML configuration format of foureyes, shared
// by `foureyes gateway`, `foureyes ingest` and `foureyes dev`.
//
// Load reads a file, applies the defaults documented beside each field and
// validates the result; every validation error names the YAML key and the
// fix. docs/config.md is the reference for operators.
package config

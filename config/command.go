package config

// DefaultMaxCommandBytes is gateway.max_command_bytes when unset: far
// more than any command a person types, small enough that a reviewer can
// read every byte of it.
const DefaultMaxCommandBytes = 64 << 10

package config

import "fmt"

// MaxKeepFileContentBytes bounds recording_policies[].keep_file_content_bytes:
// content is recorded as events through the spool, Kafka and ClickHouse,
// which are sized for sessions, not for file archives.
const MaxKeepFileContentBytes = 64 << 20

// KeepFileContent returns how many bytes of each file transferred to or
// from host (SFTP) are kept in the recording, per file and direction:
// the first matching recording policy's keep_file_content_bytes, 0
// (sizes and hashes only) when none matches.
func (c *Config) KeepFileContent(host *Host) int64 {
	if i := c.recordingPolicyIndex(host); i >= 0 {
		return c.RecordingPolicies[i].KeepFileContentBytes
	}
	return 0
}

// validateFileContent checks keep_file_content_bytes of every recording
// policy.
func (c *Config) validateFileContent(pr *problems) {
	for i, p := range c.RecordingPolicies {
		if p.KeepFileContentBytes < 0 || p.KeepFileContentBytes > MaxKeepFileContentBytes {
			pr.add(fmt.Sprintf("recording_policies[%d].keep_file_content_bytes", i),
				"is %d; use 0 (keep no content, the default) up to %d (64 MiB) bytes per file", p.KeepFileContentBytes, MaxKeepFileContentBytes)
		}
	}
}

package config

// DefaultExecOutputCap is recording_policies[].exec_output_cap when a
// policy leaves it out or no policy matches a host: 1 MiB per stream.
const DefaultExecOutputCap = 1 << 20

// ExecOutputCap returns how many bytes of each output stream (stdout,
// stderr) of a command without a terminal on host are stored: the
// exec_output_cap of the first recording policy matching host, or
// DefaultExecOutputCap. 0 means all of them. The rest of a stream is
// forwarded and summarised (size, SHA-256, last KiB), not stored.
func (c *Config) ExecOutputCap(host *Host) int64 {
	if i := c.recordingPolicyIndex(host); i >= 0 && c.RecordingPolicies[i].ExecOutputCap != nil {
		return *c.RecordingPolicies[i].ExecOutputCap
	}
	return DefaultExecOutputCap
}

// validateExecOutputCap checks recording_policies[N].exec_output_cap.
func validateExecOutputCap(pr *problems, key string, v *int64) {
	if v != nil && *v < 0 {
		pr.add(key+".exec_output_cap", "is %d: give a number of bytes (default %d), or 0 to store all output", *v, DefaultExecOutputCap)
	}
}

// Values of recording_policies[].exec_transfers.
const (
	// TransfersSummarise records a legacy scp, rsync or git command's
	// streams as transfer events (sizes, hashes), not their bytes.
	TransfersSummarise = "summarise"
	// TransfersStore records them like any other command: all input,
	// output up to exec_output_cap. For hosts where users can change
	// what their login shell runs (~/.bashrc, ~/.ssh/rc) and a transfer
	// command could be made into something else.
	TransfersStore = "store"
)

// ExecTransfers returns TransfersSummarise or TransfersStore for host:
// the exec_transfers of the first recording policy matching it, default
// TransfersSummarise.
func (c *Config) ExecTransfers(host *Host) string {
	if i := c.recordingPolicyIndex(host); i >= 0 && c.RecordingPolicies[i].ExecTransfers != "" {
		return c.RecordingPolicies[i].ExecTransfers
	}
	return TransfersSummarise
}

// validateExecTransfers checks recording_policies[N].exec_transfers.
func validateExecTransfers(pr *problems, key, v string) {
	if v != "" && v != TransfersSummarise && v != TransfersStore {
		pr.add(key+".exec_transfers", "%q: use %q (transfer events) or %q (record the bytes like any command)", v, TransfersSummarise, TransfersStore)
	}
}

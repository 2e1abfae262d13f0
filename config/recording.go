package config

import "fmt"

// What a session does when its recording fails (an event cannot be made
// durable: the spool is full, or a write or fsync failed).
const (
	// OnFailureStrict ends the session for everyone with a message. It
	// is the default, and always applies to hosts that need approval.
	OnFailureStrict = "strict"
	// OnFailureBestEffort lets the session continue unrecorded; a
	// recording.failed event in the gateway's stream says what was lost.
	OnFailureBestEffort = "best_effort"
)

// RecordingPolicy says what happens to sessions on the hosts it matches
// when their recording fails. The first policy whose hosts match a host
// applies; hosts matching none are strict.
type RecordingPolicy struct {
	// Hosts are host-name globs or "key=value" label selectors, as in
	// roles. Required.
	Hosts []string `yaml:"hosts"`
	// OnFailure is "strict" (end the session) or "best_effort" (continue
	// unrecorded and record what was lost). Default: strict. Hosts that
	// need four-eyes approval are always strict.
	OnFailure string `yaml:"on_failure"`
	// KeepFileContentBytes is how many bytes of each transferred file's
	// content are kept in the recording, per file and direction
	// (filecontent.go). Default: 0, none: only sizes and hashes.
	KeepFileContentBytes int64 `yaml:"keep_file_content_bytes"`
	// ExecOutputCap bounds the bytes stored of each output stream of a
	// command without a terminal; past it they pass unstored and are
	// summarised (config/execcap.go). Default: 1 MiB; 0 stores all.
	ExecOutputCap *int64 `yaml:"exec_output_cap"`
	// ExecTransfers is "summarise" (scp, rsync and git streams become
	// transfer events) or "store" (they are recorded like any command).
	// Default: summarise (config/execcap.go).
	ExecTransfers string `yaml:"exec_transfers"`
}

// RecordingOnFailure returns the recording failure policy of host:
// OnFailureStrict or OnFailureBestEffort. A host that needs approval is
// strict whatever recording_policies say.
func (c *Config) RecordingOnFailure(host *Host) string {
	if _, ok := c.ApprovalPolicy(host); ok {
		return OnFailureStrict
	}
	if i := c.recordingPolicyIndex(host); i >= 0 {
		return c.RecordingPolicies[i].OnFailure
	}
	return OnFailureStrict
}

// recordingPolicyIndex returns the index of the first recording policy
// matching host, or -1.
func (c *Config) recordingPolicyIndex(host *Host) int {
	for i := range c.RecordingPolicies {
		if matchAny(c.RecordingPolicies[i].Hosts, host) {
			return i
		}
	}
	return -1
}

// setRecordingDefaults fills the documented defaults of every policy.
func (c *Config) setRecordingDefaults() {
	for i := range c.RecordingPolicies {
		setStr(&c.RecordingPolicies[i].OnFailure, OnFailureStrict)
	}
}

// validateRecording checks recording_policies: patterns, values, and
// that no host needing approval is matched first by a best_effort policy.
func (c *Config) validateRecording(pr *problems) {
	for i, p := range c.RecordingPolicies {
		key := fmt.Sprintf("recording_policies[%d]", i)
		if len(p.Hosts) == 0 {
			pr.add(key+".hosts", "is empty; list host names, globs or key=value labels the policy applies to")
		}
		for j, pat := range p.Hosts {
			if err := checkPattern(pat); err != nil {
				pr.add(fmt.Sprintf("%s.hosts[%d]", key, j), "%v", err)
			}
		}
		if p.OnFailure != OnFailureStrict && p.OnFailure != OnFailureBestEffort {
			pr.add(key+".on_failure", "%q: use %q (end the session) or %q (continue unrecorded)", p.OnFailure, OnFailureStrict, OnFailureBestEffort)
		}
		validateExecOutputCap(pr, key, p.ExecOutputCap)
		validateExecTransfers(pr, key, p.ExecTransfers)
	}
	c.validateFileContent(pr)
	for i := range c.Hosts {
		h := &c.Hosts[i]
		j := c.recordingPolicyIndex(h)
		if j < 0 || c.RecordingPolicies[j].OnFailure != OnFailureBestEffort {
			continue
		}
		if _, ok := c.ApprovalPolicy(h); ok {
			pr.add(fmt.Sprintf("recording_policies[%d].on_failure", j),
				"is %s but it matches host %q, which needs four-eyes approval: approved sessions are always recorded strictly; narrow recording_policies[%d].hosts or use %s",
				OnFailureBestEffort, h.Name, j, OnFailureStrict)
		}
	}
}

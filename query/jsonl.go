package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/foureyes/foureyes/event"
)

// sessionJSON is the --json form of a Session (sessions, and the first line
// of show). Field names are a contract: extend, never rename.
type sessionJSON struct {
	Record        string   `json:"record,omitempty"` // "session" in show --json
	ID            string   `json:"id"`
	Kind          string   `json:"kind"`
	User          string   `json:"user"`
	Host          string   `json:"host"`
	Login         string   `json:"login"`
	Remote        string   `json:"remote"`
	Gateway       string   `json:"gateway"`
	Command       string   `json:"command,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	Class         string   `json:"class"`
	RetentionDays int      `json:"retention_days"`
	Started       string   `json:"started"`         // RFC3339Nano, UTC
	Ended         string   `json:"ended,omitempty"` // absent while open
	DurationMs    *int64   `json:"duration_ms,omitempty"`
	Open          bool     `json:"open"`
	ExitStatus    int      `json:"exit_status"`
	Interrupted   bool     `json:"interrupted"`
	BytesIn       uint64   `json:"bytes_in"`
	BytesOut      uint64   `json:"bytes_out"`
	Approvers     []string `json:"approvers"`
	LastSeq       uint64   `json:"last_seq"`
	LastHash      string   `json:"last_hash"`
	// Verified says whether the fields above were checked against the
	// signed chain and agree: show walks the chain, sessions checks an
	// ended row against the signed end and an open row against the start
	// (rowcheck.go). Always present; false when not checked.
	Verified bool     `json:"verified"`
	Problems []string `json:"problems,omitempty"`
	// The host channel fields (show, sessions); in show Warnings says
	// what they mean in a sentence.
	hostChannelJSON
	Warnings []string `json:"warnings,omitempty"`
}

// hostChannelJSON is what a session's authenticated session.end says of
// the host's channel, in show, sessions and search --json: HostChannelOpen
// is true when the host kept the session's channel open after the
// bastion ended the session, HostChannelAction what the bastion did then
// (login_closed, login_retired).
type hostChannelJSON struct {
	HostChannelOpen   bool   `json:"host_channel_open,omitempty"`
	HostChannelAction string `json:"host_channel_action,omitempty"`
}

// withHostChannel sets the fields from hc.
func (j *hostChannelJSON) withHostChannel(hc hostChannel) {
	j.HostChannelOpen = hc.Open
	if hc.Open {
		j.HostChannelAction = hc.Action
	}
}

// withIntegrity adds the verdict of a read to j.
func (j *sessionJSON) withIntegrity(in *Integrity) {
	j.Verified = in.OK()
	j.Problems = in.Problems
}

// verifyJSON is verify --json: one line per stream.
type verifyJSON struct {
	Record        string   `json:"record"` // "verify"
	ID            string   `json:"id"`
	OK            bool     `json:"ok"`
	Events        int      `json:"events"`
	LastSeq       uint64   `json:"last_seq"`
	LastHash      string   `json:"last_hash"`
	Open          bool     `json:"open"`
	Signed        bool     `json:"signed"`
	SignedThrough *uint64  `json:"signed_through,omitempty"`
	Keys          []string `json:"keys"`
	Problems      []string `json:"problems"`
	Notes         []string `json:"notes"`
}

func toVerifyJSON(r *VerifyResult) verifyJSON {
	in := &r.Integrity
	j := verifyJSON{Record: "verify", ID: r.Session, OK: r.OK(), Events: r.Events, LastSeq: r.LastSeq, LastHash: r.LastHash,
		Open: r.Open, Signed: in.Stream.Signed, Keys: in.Stream.Keys, Problems: in.Problems, Notes: in.Notes}
	if in.Stream.Signed {
		t := in.Stream.SignedThrough
		j.SignedThrough = &t
	}
	if j.Keys == nil {
		j.Keys = []string{}
	}
	if j.Problems == nil {
		j.Problems = []string{}
	}
	if j.Notes == nil {
		j.Notes = []string{}
	}
	return j
}

func toSessionJSON(s *Session, record string) sessionJSON {
	j := sessionJSON{
		Record: record, ID: s.ID, Kind: s.Kind, User: s.User, Host: s.Host, Login: s.Login, Remote: s.Remote,
		Gateway: s.Gateway, Command: s.Command, Reason: s.Reason, Class: s.Class, RetentionDays: s.RetentionDays,
		Started: s.Started.UTC().Format(time.RFC3339Nano), Open: s.Open, ExitStatus: s.ExitStatus,
		Interrupted: s.Interrupted, BytesIn: s.BytesIn, BytesOut: s.BytesOut, Approvers: s.Approvers,
		LastSeq: s.LastSeq, LastHash: s.LastHash,
	}
	if j.Approvers == nil {
		j.Approvers = []string{}
	}
	if !s.Open && !s.Ended.IsZero() {
		j.Ended = s.Ended.UTC().Format(time.RFC3339Nano)
		ms := s.Duration().Milliseconds()
		j.DurationMs = &ms
	}
	return j
}

// eventJSON is a timeline event in show --json. Output and input carry
// only their size (the bytes are in export; input may hold secrets); other
// events carry their data as a string.
type eventJSON struct {
	Record string            `json:"record"` // "event"
	Seq    uint64            `json:"seq"`
	Time   string            `json:"time"` // RFC3339Nano, UTC
	Type   string            `json:"type"`
	Actor  string            `json:"actor,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`
	Data   string            `json:"data,omitempty"`
	Bytes  int               `json:"bytes"`
	Hash   string            `json:"hash"`
}

// commandJSON is a reconstructed command in show --json.
type commandJSON struct {
	Record      string   `json:"record"` // "command"
	Seq         uint64   `json:"seq"`
	Time        string   `json:"time"`
	Actor       string   `json:"actor"`
	Line        string   `json:"line"`
	Approximate bool     `json:"approximate"`
	Typists     []string `json:"typists,omitempty"`
	Blind       int      `json:"blind,omitempty"` // characters typed without echo
	// Joined is the whole command when this line ended one the shell
	// read over several lines (Command.Joined).
	Joined string `json:"joined,omitempty"`
}

func toEventJSON(e *event.Event) eventJSON {
	j := eventJSON{Record: "event", Seq: e.Seq, Time: e.Timestamp().UTC().Format(time.RFC3339Nano), Type: string(e.Type),
		Actor: e.Actor, Meta: e.Meta, Bytes: len(e.Data), Hash: e.Hash.String()}
	if e.Type != event.Output && e.Type != event.Input {
		j.Data = string(e.Data)
	}
	return j
}

func toCommandJSON(c *Command) commandJSON {
	return commandJSON{Record: "command", Seq: c.Seq, Time: c.Time.UTC().Format(time.RFC3339Nano), Actor: c.Actor,
		Line: c.Line, Approximate: c.Approximate, Typists: c.Typists, Blind: c.Blind, Joined: c.Joined}
}

// writeJSONLine writes v as one line of JSON. encoding/json escapes C0
// controls and U+2028/9; C1 controls (U+0080..U+009F, which some terminals
// obey) are escaped here too, so the line is safe to print.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("query: json: %w", err)
	}
	b = escapeC1(b)
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("query: write: %w", err)
	}
	return nil
}

// escapeC1 replaces the UTF-8 encoding of U+0080..U+009F (C2 80..C2 9F)
// in JSON text with \u escapes. Outside strings JSON is ASCII, so the
// bytes can only occur as string content.
func escapeC1(b []byte) []byte {
	if !bytes.Contains(b, []byte{0xc2}) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); i++ {
		if b[i] == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f {
			out = append(out, '\\', 'u', '0', '0', hexDigits[b[i+1]>>4], hexDigits[b[i+1]&0xf])
			i++
			continue
		}
		out = append(out, b[i])
	}
	return out
}

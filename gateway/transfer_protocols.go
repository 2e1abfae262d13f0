package gateway

import (
	"strconv"
	"strings"

	"github.com/foureyes/foureyes/gateway/transfer"
	"github.com/foureyes/foureyes/recorder"
)

// transferProtocol follows the protocol of one file transfer program
// through an execTap, so that a transfer stays summarised only while both
// directions look like that program's: a shell the host runs instead (a
// forced command, a wrapper, a `scp` that is not scp) is stored like any
// command's bytes. One implementation per protocol: scp, git, rsync.
type transferProtocol interface {
	// follow checks chunk p flowing in dir (transfer.Upload: the
	// client's, transfer.Download: the host's stdout). keep reports
	// whether the chunk stays summarised; broken, when not "", says why
	// the rest of the transfer is stored (keep is then false).
	follow(t *execTap, rec *recorder.Session, dir string, p []byte) (keep bool, broken string)
	// finish records what remains at the end and adds to the meta of
	// the transfer's event.
	finish(t *execTap, rec *recorder.Session, meta map[string]string)
}

// newTransferProtocol returns the checks of transfer c, nil for a program
// without any.
func newTransferProtocol(c transfer.Command) transferProtocol {
	switch c.Via {
	case transfer.ViaSCP:
		return &scpProtocol{}
	case transfer.ViaGit:
		// git-receive-pack's client sends its pack raw after the
		// commands' flush packet.
		return &gitProtocol{
			up:          transfer.PktLines{RawAfterFlush: c.Program == "git-receive-pack"},
			clientFirst: c.Program == "git-upload-archive",
		}
	case transfer.ViaRsync:
		return &rsyncProtocol{}
	}
	return nil
}

// scpProtocol follows both directions of legacy scp in step
// (transfer.SCP): the data with its files, each named in one more
// event.Transfer, and the receiving end's answers, which decide whether
// a file's bytes follow its header.
type scpProtocol struct {
	scp transfer.SCP
}

func (s *scpProtocol) follow(t *execTap, rec *recorder.Session, dir string, p []byte) (bool, string) {
	if dir == t.xfer.Direction {
		t.recordFiles(rec, s.scp.Data(p))
	} else {
		t.recordFiles(rec, s.scp.Answers(p))
	}
	if broken, why := s.scp.Broken(); broken {
		return false, why + " (" + dir + ")"
	}
	// An error message among the answers of an scp download's client
	// is text a shell the host runs instead of `scp -f` would read as
	// a command: a chunk with more than NUL answers is stored.
	return dir == t.xfer.Direction || dir != transfer.Upload || strings.Trim(string(p), "\x00") == "", ""
}

func (s *scpProtocol) finish(t *execTap, rec *recorder.Session, meta map[string]string) {
	t.recordFiles(rec, s.scp.Close())
	meta["files"] = strconv.Itoa(s.scp.Seen())
}

// gitProtocol checks the pkt-line framing of both directions of git's
// upload-pack, receive-pack and upload-archive.
type gitProtocol struct {
	up, down    transfer.PktLines
	clientFirst bool // git-upload-archive: the client sends its arguments first
}

func (g *gitProtocol) follow(_ *execTap, _ *recorder.Session, dir string, p []byte) (bool, string) {
	k := &g.up
	if dir == transfer.Download {
		k = &g.down
	}
	if !k.Write(p) {
		return false, "git pkt-line framing broken (" + dir + ")"
	}
	// A pkt-line's payload is any text, and a push's pack is raw: the
	// client of upload-pack and receive-pack speaks only after the
	// host's advertisement (ended by a flush), as git does. A shell the
	// host runs instead advertises nothing. An archive's client speaks
	// first, its few arguments are stored (input).
	if dir == transfer.Upload && !g.clientFirst && !g.down.Flushed() {
		return false, "git client spoke before the host's advertisement"
	}
	return !(dir == transfer.Upload && g.clientFirst), ""
}

func (*gitProtocol) finish(*execTap, *recorder.Session, map[string]string) {}

// rsyncProtocol checks of rsync's binary protocol only the version each
// side sends first.
type rsyncProtocol struct {
	up, down transfer.RsyncGreeting
}

func (r *rsyncProtocol) follow(_ *execTap, _ *recorder.Session, dir string, p []byte) (bool, string) {
	g := &r.up
	if dir == transfer.Download {
		g = &r.down
	}
	if !g.Write(p) {
		return false, "rsync did not open with a protocol version (" + dir + ")"
	}
	// rsync's client sends its version, then waits for the host's. A
	// silent shell sends none.
	if dir == transfer.Upload && g.Past() && !r.down.Done() {
		return false, "rsync client went on before the host's protocol version"
	}
	return true, ""
}

func (*rsyncProtocol) finish(*execTap, *recorder.Session, map[string]string) {}

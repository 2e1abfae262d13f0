package transfer

import (
	"strings"
	"unicode/utf8"
)

// Tools, the via of event.Transfer.
const (
	ViaSCP   = "scp"
	ViaRsync = "rsync"
	ViaGit   = "git"
)

// Directions of a transfer, as in event.Transfer: "upload" is client →
// host.
const (
	Upload   = "upload"
	Download = "download"
)

// MaxLine bounds the command lines Classify considers; a longer one is an
// ordinary command.
const MaxLine = 16 << 10

// Command is a command line recognised as a file transfer.
type Command struct {
	// Via is the tool: ViaSCP, ViaRsync or ViaGit.
	Via string
	// Program is the program the line runs ("scp", "git-upload-pack").
	Program string
	// Direction is Upload or Download.
	Direction string
	// Path is the path operands, unquoted as the host's shell reads them,
	// joined by spaces (scp may name several).
	Path string
}

// Classify reports whether line is exactly one invocation of a transfer
// program as stock clients send it, and which. Any other line, including
// one that runs a transfer program and then anything else, is not a
// transfer.
func Classify(line string) (Command, bool) {
	if len(line) > MaxLine || !utf8.ValidString(line) {
		return Command{}, false
	}
	words, ok := splitWords(line)
	if !ok || len(words) == 0 {
		return Command{}, false
	}
	// Stock clients name the program bare. A quoted or pieced-together
	// name (`scp'' -t x`, `'rsync' --server …`) runs the same program
	// but is no client's line: it stays an ordinary command, recorded in
	// full, rather than a summarised transfer.
	if !strings.HasPrefix(strings.TrimLeft(line, " "), words[0]+" ") {
		return Command{}, false
	}
	switch words[0] {
	case "scp":
		return classifySCP(words[1:])
	case "rsync":
		return classifyRsync(words[1:])
	case "git-upload-pack", "git-upload-archive":
		return classifyGit(words, Download)
	case "git-receive-pack":
		return classifyGit(words, Upload)
	}
	return Command{}, false
}

// scpFlags are the options of scp's remote end (-t sink, -f source, -d
// target is a directory, -r recursive, -p preserve times, -v verbose,
// -q quiet). Others, -S PROGRAM first, are not a transfer.
const scpFlags = "tfdrpvq"

// classifySCP reads `scp [-dprvq] -t|-f [--] PATH...`.
func classifySCP(args []string) (Command, bool) {
	dir := ""
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for _, c := range a[1:] {
			if !strings.ContainsRune(scpFlags, c) {
				return Command{}, false
			}
			switch c {
			case 't', 'f':
				d := Upload
				if c == 'f' {
					d = Download
				}
				if dir != "" && dir != d {
					return Command{}, false
				}
				dir = d
			}
		}
	}
	paths := args[i:]
	if dir == "" || len(paths) == 0 {
		return Command{}, false
	}
	return Command{Via: ViaSCP, Program: "scp", Direction: dir, Path: strings.Join(paths, " ")}, true
}

// rsyncRefused are long options of rsync that turn the server into
// something else than a transfer of the named paths: daemon mode runs
// the commands of an rsyncd.conf (pre-xfer exec), and the others only
// make sense with it or on the client side.
var rsyncRefused = map[string]bool{
	"daemon": true, "config": true, "dparam": true, "detach": true, "no-detach": true,
	"rsh": true, "rsync-path": true, "remote-option": true, "address": true, "port": true,
	"sockopts": true, "write-batch": true, "only-write-batch": true, "read-batch": true,
}

// classifyRsync reads `rsync --server [--sender] OPTIONS . PATH...`.
func classifyRsync(args []string) (Command, bool) {
	if len(args) == 0 || args[0] != "--server" {
		return Command{}, false
	}
	dir := Upload
	i := 1
	valueNext := false // the last word was "--name" without "=": a value may follow
	for ; i < len(args); i++ {
		a := args[i]
		if a == "." {
			i++
			break
		}
		value := valueNext
		valueNext = false
		switch {
		case a == "--sender":
			dir = Download
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			if name == "" || rsyncRefused[name] {
				return Command{}, false
			}
			valueNext = !hasValue
		case value && !strings.HasPrefix(a, "-"):
			// The value of the option before ("--temp-dir DIR").
		case len(a) >= 2 && a[0] == '-':
			// A cluster of short flags, "-e.xxx" capabilities at its end.
			flags, _, _ := strings.Cut(a[1:], "e")
			if strings.ContainsRune(flags, 'M') {
				return Command{}, false
			}
		default:
			return Command{}, false
		}
	}
	if i > len(args) || args[i-1] != "." || i == len(args) {
		return Command{}, false
	}
	paths := args[i:]
	for _, p := range paths {
		if strings.HasPrefix(p, "-") {
			return Command{}, false
		}
	}
	return Command{Via: ViaRsync, Program: "rsync", Direction: dir, Path: strings.Join(paths, " ")}, true
}

// classifyGit reads `git-upload-pack PATH` and its siblings.
func classifyGit(words []string, dir string) (Command, bool) {
	if len(words) != 2 || words[1] == "" || strings.HasPrefix(words[1], "-") {
		return Command{}, false
	}
	return Command{Via: ViaGit, Program: words[0], Direction: dir, Path: words[1]}, true
}

// splitWords splits a command line into the words a POSIX shell would
// see, accepting only what cannot run anything else: words of plain
// characters and single-quoted strings (with \' between them, as git
// quotes), separated by spaces. Globs (*?[]) and a leading ~ are kept
// as they are: the host's shell may expand them into more paths, never
// into a command. ok is false for any other character.
func splitWords(line string) ([]string, bool) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, false
			}
			q := line[i+1 : i+1+end]
			if !quotedSafe(q) {
				return nil, false
			}
			cur.WriteString(q)
			inWord = true
			i += end + 1
		case c == '\\':
			if i+1 >= len(line) || line[i+1] != '\'' {
				return nil, false
			}
			cur.WriteByte('\'')
			inWord = true
			i++
		case plain(c, inWord):
			cur.WriteByte(c)
			inWord = true
		default:
			return nil, false
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, true
}

// plain reports whether c stands for itself in an unquoted word of
// POSIX sh, bash, zsh, dash and csh alike. "~" only at a word's start
// (home directory); "=" never at one (zsh's =cmd expansion).
func plain(c byte, inWord bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		return true
	case c == '~':
		return !inWord
	case c == '=':
		return inWord
	}
	return strings.IndexByte("-_./,:+@%*?[]", c) >= 0
}

// quotedSafe reports whether s may stand inside single quotes: no
// control characters, and no "!" (csh expands history even there).
func quotedSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f || c == '!' {
			return false
		}
	}
	return true
}

package transfer

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// classifyCases are command lines as stock clients send them, and lines
// that only look like them.
var classifyCases = []struct {
	name string
	line string
	ok   bool
	want Command
}{
	{"scp upload", "scp -t scp-landed.txt", true, Command{ViaSCP, "scp", Upload, "scp-landed.txt"}},
	{"scp quoted program", "scp'' -t 0", false, Command{}},
	{"rsync quoted program", "'rsync' --server -e.LsfxC . dst", false, Command{}},
	{"git pieced program", "git-upload-pa''ck repo.git", false, Command{}},
	{"scp download", "scp -f /etc/hosts", true, Command{ViaSCP, "scp", Download, "/etc/hosts"}},
	{"scp recursive into dir", "scp -v -r -d -p -t -- /srv/dir", true, Command{ViaSCP, "scp", Upload, "/srv/dir"}},
	{"scp dash path", "scp -t -- -odd", true, Command{ViaSCP, "scp", Upload, "-odd"}},
	{"scp glob", "scp -f *.log", true, Command{ViaSCP, "scp", Download, "*.log"}},
	{"scp tilde", "scp -f ~/notes.txt", true, Command{ViaSCP, "scp", Download, "~/notes.txt"}},
	{"scp two paths", "scp -f a b", true, Command{ViaSCP, "scp", Download, "a b"}},
	{"scp utf-8", "scp -t Résumé.pdf", true, Command{ViaSCP, "scp", Upload, "Résumé.pdf"}},
	{"rsync upload", "rsync --server -logDtpre.iLsfxCIvu . d/", true, Command{ViaRsync, "rsync", Upload, "d/"}},
	{"rsync download", "rsync --server --sender -logDtpre.iLsfxCIvu . d/", true, Command{ViaRsync, "rsync", Download, "d/"}},
	{"rsync long options", "rsync --server -logDtpre.iLsfxCIvu --delete-during --log-format=%i --temp-dir /tmp/x . /srv/data", true, Command{ViaRsync, "rsync", Upload, "/srv/data"}},
	{"git clone", "git-upload-pack '/srv/repo.git'", true, Command{ViaGit, "git-upload-pack", Download, "/srv/repo.git"}},
	{"git push", "git-receive-pack 'repo.git'", true, Command{ViaGit, "git-receive-pack", Upload, "repo.git"}},
	{"git archive", "git-upload-archive '/srv/repo.git'", true, Command{ViaGit, "git-upload-archive", Download, "/srv/repo.git"}},
	{"git quoted quote", `git-upload-pack '/srv/it'\''s.git'`, true, Command{ViaGit, "git-upload-pack", Download, "/srv/it's.git"}},
	{"git quoted semicolon", "git-upload-pack '/srv/a;b.git'", true, Command{ViaGit, "git-upload-pack", Download, "/srv/a;b.git"}},

	// The bypass: a transfer program, then anything else.
	{"scp then shell", "scp -t x; bash", false, Command{}},
	{"scp then shell no space", "scp -t x;bash", false, Command{}},
	{"scp and", "scp -t x && bash", false, Command{}},
	{"scp or", "scp -t x || bash", false, Command{}},
	{"scp pipe", "scp -t x | bash", false, Command{}},
	{"scp background", "scp -t x & bash", false, Command{}},
	{"scp newline", "scp -t x\nbash", false, Command{}},
	{"scp carriage return", "scp -t x\rbash", false, Command{}},
	{"scp substitution", "scp -t $(bash)", false, Command{}},
	{"scp backquote", "scp -t `bash`", false, Command{}},
	{"scp variable", "scp -t $HOME", false, Command{}},
	{"scp redirect", "scp -t x < /dev/null", false, Command{}},
	{"scp redirect out", "scp -t x>y", false, Command{}},
	{"scp double quotes", `scp -t "$(id)"`, false, Command{}},
	{"scp subshell", "scp -t (x)", false, Command{}},
	{"scp brace group", "{ scp -t x; }", false, Command{}},
	{"scp comment", "scp -t x #", false, Command{}},
	{"scp tab", "scp\t-t x", false, Command{}},
	{"scp backslash", `scp -t x\;bash`, false, Command{}},
	{"scp history", "scp -t !!", false, Command{}},
	{"scp assignment first", "X=1 scp -t x", false, Command{}},
	{"scp zsh equals", "scp -t =bash", false, Command{}},
	{"scp program option", "scp -S /tmp/evil -t x", false, Command{}},
	{"scp both modes", "scp -t -f x", false, Command{}},
	{"scp no mode", "scp -r x", false, Command{}},
	{"scp no path", "scp -t", false, Command{}},
	{"scp path", "/tmp/scp -t x", false, Command{}},
	{"scp unterminated quote", "scp -t 'x", false, Command{}},
	{"scp nul", "scp -t x\x00y", false, Command{}},
	{"scp quoted newline", "scp -t 'x\nbash'", false, Command{}},
	{"scp invalid utf-8", "scp -t \xff", false, Command{}},
	{"scp exec", "exec scp -t x", false, Command{}},
	{"rsync daemon", "rsync --server --daemon --config=/tmp/rsyncd.conf .", false, Command{}},
	{"rsync daemon config", "rsync --server --config=/tmp/c . x", false, Command{}},
	{"rsync no server", "rsync -av . x", false, Command{}},
	{"rsync no dot", "rsync --server -logDtpre.iLsfxCIvu d/", false, Command{}},
	{"rsync no path", "rsync --server -logDtpre.iLsfxCIvu .", false, Command{}},
	{"rsync then shell", "rsync --server -e.LsfxC . d/; bash", false, Command{}},
	{"rsync stray word", "rsync --server x . d/", false, Command{}},
	{"rsync remote option", "rsync --server -M--fake . d/", false, Command{}},
	{"git two paths", "git-upload-pack 'a' 'b'", false, Command{}},
	{"git then shell", "git-upload-pack '/srv/repo.git'; bash", false, Command{}},
	{"git option", "git-upload-pack --help", false, Command{}},
	{"git substitution", "git-upload-pack '/srv/repo.git'$(bash)", false, Command{}},
	{"git spaced", "git upload-pack '/srv/repo.git'", false, Command{}},
	{"git bare", "git-upload-pack", false, Command{}},
	{"empty", "", false, Command{}},
	{"shell", "bash", false, Command{}},
	{"too long", "scp -t " + strings.Repeat("a", MaxLine), false, Command{}},
}

func TestClassify(t *testing.T) {
	for _, tc := range classifyCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Classify(tc.line)
			if ok != tc.ok || got != tc.want {
				t.Errorf("Classify(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestClassifyAgreesWithShell runs every accepted line through a real
// /bin/sh with the program replaced by printf: the shell must see exactly
// the words Classify saw, and run nothing else.
func TestClassifyAgreesWithShell(t *testing.T) {
	for _, tc := range classifyCases {
		if !tc.ok || strings.Contains(tc.line, "~") {
			continue // the shell expands ~ to $HOME
		}
		words, ok := splitWords(tc.line)
		if !ok {
			t.Fatalf("splitWords(%q) refused an accepted line", tc.line)
		}
		// Replace the program (always a plain first word) with printf.
		rest := strings.TrimPrefix(tc.line, words[0])
		cmd := exec.Command("/bin/sh", "-c", `printf '%s\0' `+words[0]+rest)
		cmd.Dir = t.TempDir() // no file matches a glob: the shell keeps it
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sh -c %q: %v", tc.line, err)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		if strings.Join(got, "\x00") != strings.Join(words, "\x00") {
			t.Errorf("%q: shell words %q; Classify's %q", tc.line, got, words)
		}
	}
}

// FuzzClassify: whatever the line, an accepted one has no shell
// operator outside single quotes, names a transfer program first, and
// splits into the words the line's quoting gives.
func FuzzClassify(f *testing.F) {
	for _, tc := range classifyCases {
		f.Add(tc.line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, ok := Classify(line)
		if !ok {
			return
		}
		switch c.Via {
		case ViaSCP, ViaRsync, ViaGit:
		default:
			t.Fatalf("Classify(%q): via %q", line, c.Via)
		}
		if c.Direction != Upload && c.Direction != Download {
			t.Fatalf("Classify(%q): direction %q", line, c.Direction)
		}
		if !strings.HasPrefix(strings.TrimLeft(line, " "), c.Program+" ") {
			t.Fatalf("Classify(%q): program %q is not the first word", line, c.Program)
		}
		quoted := false
		for i := 0; i < len(line); i++ {
			b := line[i]
			if b == '\'' {
				quoted = !quoted
				continue
			}
			if b < ' ' || b == 0x7f {
				t.Fatalf("Classify(%q): control byte %#x accepted", line, b)
			}
			if quoted {
				continue
			}
			if bytes.IndexByte([]byte(";&|$`<>(){}\"!#^\t\n"), b) >= 0 {
				t.Fatalf("Classify(%q): shell operator %q outside quotes", line, b)
			}
			if b == '\\' {
				if i+1 >= len(line) || line[i+1] != '\'' {
					t.Fatalf("Classify(%q): backslash escapes %q", line, line[i+1:])
				}
				i++ // an escaped quote
			}
		}
		if quoted {
			t.Fatalf("Classify(%q): unterminated quote accepted", line)
		}
	})
}

package main

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/aemp-go/aemp/config"
)

// perlDir holds what Perl's aemp 1.30 wrote and printed, step by step
// (STEPS.txt lists the commands).
const perlDir = "../../config/testdata/perl"

type perlStep struct {
	nn      string
	rc      int
	changed string // yes, no, absent
	args    []string
}

// shellWords undoes bash's printf %q quoting (backslashes and '...').
func shellWords(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				t.Fatalf("unbalanced quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '$' && i+1 < len(s) && s[i+1] == '\'':
			t.Fatalf("$'...' quoting not handled: %q", s)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func readSteps(t *testing.T, dir string) []perlStep {
	f, err := os.Open(filepath.Join(dir, "STEPS.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []perlStep
	line := regexp.MustCompile(`^(\d\d) rc=(\d+) changed=(yes|no|absent) aemp(.*)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("STEPS.txt: cannot read %q", sc.Text())
		}
		rc, _ := strconv.Atoi(m[2])
		steps = append(steps, perlStep{m[1], rc, m[3], shellWords(t, m[4])})
	}
	if len(steps) == 0 {
		t.Fatalf("%s/STEPS.txt: no steps", dir)
	}
	return steps
}

// stepFile returns the file of step nn with the given extension, or "".
func stepFile(t *testing.T, dir, nn, ext string) string {
	m, _ := filepath.Glob(filepath.Join(dir, nn+"-*"+ext))
	if len(m) > 1 {
		t.Fatalf("step %s: several %s files", nn, ext)
	}
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

var (
	generatedCert   = regexp.MustCompile(`"cert" : "-----BEGIN CERTIFICATE-----[^"]*-----END PRIVATE KEY-----\\n"`)
	generatedSecret = regexp.MustCompile(`"secret" : "[0-9A-Za-z=]{80,}"`)
)

// normalize replaces the values gencert and gensecret make at random
// (certificate first, then key; a long alphanumeric secret) by
// placeholders, in pretty-printed text.
func normalize(text []byte) []byte {
	text = generatedCert.ReplaceAll(text, []byte(`"cert" : "GENERATED"`))
	return generatedSecret.ReplaceAll(text, []byte(`"secret" : "GENERATED"`))
}

// sameDoc compares two pretty-printed documents: equal values after
// normalize, and the same lines but for key order and trailing commas.
func sameDoc(t *testing.T, what string, ours, perl []byte) {
	t.Helper()
	a, errA := config.Decode(normalize(ours), true)
	b, errB := config.Decode(normalize(perl), true)
	if errA != nil || errB != nil {
		t.Errorf("%s: decoding: ours %v, Perl's %v", what, errA, errB)
		return
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s: values differ\nours:\n%s\nPerl's:\n%s", what, ours, perl)
		return
	}
	lines := func(text []byte) []string {
		l := strings.Split(string(normalize(text)), "\n")
		for i := range l {
			l[i] = strings.TrimSuffix(l[i], ",")
		}
		slices.Sort(l)
		return l
	}
	if !slices.Equal(lines(ours), lines(perl)) {
		t.Errorf("%s: layout differs\nours:\n%s\nPerl's:\n%s", what, ours, perl)
	}
}

// TestPerlSteps runs the command lines Perl's aemp 1.30 ran, in order, on
// a fresh file and compares, after every step: the exit status (zero or
// not), whether the file was rewritten, the file and what was printed.
// perlDir has one command (or chain) per configuration command, chain/ a
// chain that sets up the profile of the CLI commands.
func TestPerlSteps(t *testing.T) {
	for _, dir := range []string{perlDir, filepath.Join(perlDir, "chain")} {
		t.Run(filepath.Base(dir), func(t *testing.T) { replaySteps(t, dir) })
	}
	if n := len(readSteps(t, perlDir)); n < 60 {
		t.Errorf("%s/STEPS.txt: only %d steps", perlDir, n)
	}
}

func replaySteps(t *testing.T, dir string) {
	certInput, err := filepath.Abs(filepath.Join(perlDir, "cert-input.pem"))
	if err != nil {
		t.Fatal(err)
	}
	configHostname = func() (string, error) { return "aemp-go-test-host", nil }
	defer func() { configHostname = os.Hostname }()
	rc := filepath.Join(t.TempDir(), "rc")
	inode := func() uint64 {
		st, err := os.Stat(rc)
		if err != nil {
			return 0
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	for _, st := range readSteps(t, dir) {
		args := slices.Clone(st.args)
		for i, a := range args {
			if strings.HasSuffix(a, "/cert-input.pem") {
				args[i] = certInput
			}
		}
		what := "step " + st.nn + " aemp " + strings.Join(st.args, " ")
		if len(args) == 0 || !isConfigCommand(args) {
			// "aemp" alone and unknown commands: main's usage error.
			before, _ := os.ReadFile(rc)
			if code, _, _ := aempRC(t, rc, args...); code == 0 || st.rc == 0 {
				t.Errorf("%s: exit %d, Perl's %d", what, code, st.rc)
			}
			if after, _ := os.ReadFile(rc); string(after) != string(before) {
				t.Errorf("%s: the file changed", what)
			}
			continue
		}
		ino := inode()
		code, out, errs := aempRC(t, rc, args...)
		if (code == 0) != (st.rc == 0) {
			t.Errorf("%s: exit %d (stderr %q), Perl's %d", what, code, errs, st.rc)
		}
		switch now := inode(); {
		case st.changed == "absent" && now != 0:
			t.Errorf("%s: wrote a file where Perl wrote none", what)
		case st.changed == "no" && now != ino:
			t.Errorf("%s: rewrote the file where Perl did not", what)
		case st.changed == "yes" && (now == ino || now == 0):
			t.Errorf("%s: did not write the file where Perl did", what)
		}
		if perl := stepFile(t, dir, st.nn, ".json"); perl != "" {
			want, _ := os.ReadFile(perl)
			ours, err := os.ReadFile(rc)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			sameDoc(t, what+": file", ours, want)
		}
		if perl := stepFile(t, dir, st.nn, ".stdout"); perl != "" {
			want, _ := os.ReadFile(perl)
			sameDoc(t, what+": output", []byte(out), want)
		} else if out != "" {
			t.Errorf("%s: printed %q, Perl nothing", what, out)
		}
		if perl := stepFile(t, dir, st.nn, ".stderr"); perl != "" {
			want, _ := os.ReadFile(perl)
			msg, _, _ := strings.Cut(strings.TrimSpace(string(want)), " (try perldoc")
			if !strings.Contains(errs, msg) || strings.Count(errs, "\n") != 1 {
				t.Errorf("%s: stderr %q; want one line saying %q", what, errs, msg)
			}
		} else if errs != "" {
			t.Errorf("%s: stderr %q, Perl's empty", what, errs)
		}
	}
}

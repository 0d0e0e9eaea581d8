package config

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	t.Setenv(EnvFile, "/x/rc")
	if p := Path(); p != "/x/rc" {
		t.Errorf("with $%s: %q", EnvFile, p)
	}
	t.Setenv(EnvFile, "")
	if p := Path(); p != "" {
		t.Errorf("with an empty $%s: %q", EnvFile, p)
	}
	os.Unsetenv(EnvFile)
	t.Setenv("HOME", "/home/u")
	if p := Path(); p != "/home/u/.perl-anyevent-mp" {
		t.Errorf("with $HOME: %q", p)
	}
}

func TestLoadEmpty(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n# nothing here\n"), 0o600)
	for _, path := range []string{"", filepath.Join(dir, "missing"), "/dev/null", empty} {
		f, err := Load(path)
		if err != nil {
			t.Errorf("Load(%q): %v", path, err)
			continue
		}
		if !reflect.DeepEqual(f.Root, map[string]any{"version": Number("1")}) {
			t.Errorf("Load(%q) = %v; want {version: 1}", path, f.Root)
		}
	}
}

func TestLoadBad(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		text string
		is   error
	}{
		{"{\"a\": 1\n\"b\": 2}", ErrSyntax},
		{"seeds = a:1\n", ErrSyntax},
		{"[1, 2]", ErrNotObject},
		{`"x"`, ErrNotObject},
	} {
		path := filepath.Join(dir, "rc")
		os.WriteFile(path, []byte(tc.text), 0o600)
		_, err := Load(path)
		if !errors.Is(err, tc.is) || !strings.HasPrefix(err.Error(), path+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load(%q) = %v; want one line starting with the path, wrapping %v", tc.text, err, tc.is)
		}
	}
	if _, err := Load(dir); err == nil {
		t.Errorf("Load(a directory) succeeded")
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rc")
	f, _ := Load(path)
	f.Root["secret"] = "s1"
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	want1 := "{\n   \"secret\" : \"s1\",\n   \"version\" : 1\n}\n\n"
	if b, _ := os.ReadFile(path); string(b) != want1 {
		t.Fatalf("file:\n%q\nwant\n%q", b, want1)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v; want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(path + "~"); err == nil {
		t.Errorf("a backup was made of a file that did not exist")
	}
	os.Chmod(path, 0o640)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Root["secret"] = "s2"
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path + "~"); string(b) != want1 {
		t.Errorf("backup:\n%s\nwant the previous file", b)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"s2"`) {
		t.Errorf("file:\n%s", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v; want the old file's 0640", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want rc and rc~ only: %v", len(entries), entries)
	}
}

func TestSaveSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real")
	os.WriteFile(target, []byte(`{"version":1}`), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	f, _ := Load(link)
	f.Root["nodeid"] = "n"
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symbolic link was replaced")
	}
	if b, _ := os.ReadFile(target); !strings.Contains(string(b), `"nodeid" : "n"`) {
		t.Errorf("target:\n%s", b)
	}
}

func TestSaveRefuses(t *testing.T) {
	for _, path := range []string{"", "/dev/null", filepath.Join(t.TempDir(), "no", "such", "dir", "rc")} {
		f := New(path)
		f.Root["secret"] = "x"
		if err := f.Save(); err == nil {
			t.Errorf("Save to %q succeeded", path)
		}
	}
}

// TestPerlReadsOurs writes a document with every kind of value and has
// Perl's JSON::XS read it back in relaxed mode, as AnyEvent::MP::Config
// does: it must see the same values.
func TestPerlReadsOurs(t *testing.T) {
	perl := needJSONXS(t)
	path := filepath.Join(t.TempDir(), "rc")
	f := New(path)
	f.Root["secret"] = "sé\"cr\\et\x01\t\n/😀"
	f.Root["seeds"] = []any{"10.0.0.1:4040", "[::1]:4040"}
	f.Root["monitor_timeout"] = Number("2.5")
	f.Root["nodelay"] = false
	f.Root["autocork"] = nil
	f.Root["services"] = []any{"My::Svc::", []any{"My::f", Number("1"), map[string]any{}}}
	f.Root["profile"] = map[string]any{"p": map[string]any{"parent": "q", "binds": []any{}}}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(perl, "-MJSON::XS", "-e", `
		open my $fh, "<:raw", $ARGV[0] or die;
		local $/;
		my $cfg = JSON::XS->new->utf8->relaxed->decode (scalar <$fh>);
		binmode STDOUT;
		print JSON::XS->new->utf8->pretty->canonical->encode ($cfg);
	`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("perl: %v\n%s", err, out)
	}
	if want := string(Encode(f.Root)); string(out) != want {
		t.Errorf("JSON::XS read\n%s\nwe wrote\n%s", out, want)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/config"
)

// aempRC runs "aemp args..." with $PERL_ANYEVENT_MP_RC = rc.
func aempRC(t *testing.T, rc string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv(config.EnvFile, rc)
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func readRC(t *testing.T, rc string) string {
	t.Helper()
	b, err := os.ReadFile(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigChain(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "rc")
	code, out, errs := aempRC(t, rc, "setnodeid", "n", "profile", "x", "setseeds", "a:1,b:2,", "addseed", "c:3",
		"delseed", "a:1", "setparent", "p", "profile", "p", "binds", `["*:4040"]`, "monitor_timeout", "10")
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	want := `{
   "nodeid" : "n",
   "profile" : {
      "p" : {
         "binds" : [
            "*:4040"
         ],
         "monitor_timeout" : "10"
      },
      "x" : {
         "parent" : "p",
         "seeds" : [
            "b:2",
            "c:3"
         ]
      }
   },
   "version" : 1
}

`
	if got := readRC(t, rc); got != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	// The reverse of every change, one command line each.
	for _, args := range [][]string{
		{"profile", "p", "delbinds", "delmonitor_timeout"},
		{"profile", "x", "delseeds", "delparent"},
		{"delprofile", "x"}, {"delprofile", "p"}, {"delnodeid"},
	} {
		if code, _, errs := aempRC(t, rc, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
	}
	if got := readRC(t, rc); got != "{\n   \"profile\" : {},\n   \"version\" : 1\n}\n\n" {
		t.Errorf("after undoing everything:\n%s", got)
	}
}

// TestConfigPerlQuirks checks behaviour of Perl's aemp 1.30 that is kept.
func TestConfigPerlQuirks(t *testing.T) {
	for _, tc := range []struct {
		args []string
		key  string
		want string // the key's value, compact JSON; "-" for absent
	}{
		{[]string{"setbinds", ",a,,b,,"}, "binds", `["","a","","b"]`},
		{[]string{"setbinds", ""}, "binds", `[]`},
		{[]string{"binds", "*"}, "binds", `["*"]`},
		{[]string{"setseeds", `"x:1,y:2"`}, "seeds", `["x:1","y:2"]`},
		{[]string{"setseeds", `{"a":1}`}, "seeds", `{"a":1}`},
		{[]string{"delbind", "x"}, "binds", `[]`},
		{[]string{"delseed", "x"}, "seeds", `[]`},
		{[]string{"delservice", "x"}, "services", `[]`},
		{[]string{"addbind", "a", "addbind", "b", "addbind", "a"}, "binds", `["b","a"]`},
		{[]string{"addservice", "S::", "addservice", `["f",1]`, "addservice", "S::", "delservice", "S::"}, "services", `[["f",1],"S::"]`},
		{[]string{"setservices", "A::,B::f"}, "services", `["A::","B::f"]`},
		{[]string{"setmonitor_timeout", "10"}, "monitor_timeout", `"10"`},
		{[]string{`["setmonitor_timeout", 10, "nodelay", false]`}, "monitor_timeout", `10`},
		{[]string{`["setmonitor_timeout", 10, "nodelay", false]`}, "nodelay", `false`},
		{[]string{"setframing_format", `["json"]`}, "framing_format", `["json"]`},
		{[]string{"setauth_offer", `["hmac_md6_64_256"]`, "auth_accept", `["cleartext"]`}, "auth_accept", `["cleartext"]`},
		{[]string{"setautocork", "1", "setnodelay", "0", "connect_interval", "0.5"}, "connect_interval", `"0.5"`},
		{[]string{"secret", "s", "delsecret"}, "secret", `-`},
		{[]string{"setparent", "p"}, "parent", `"p"`},
		{[]string{"showprofile", "nosuch", "setnodeid", "x"}, "profile", `{}`},
	} {
		rc := filepath.Join(t.TempDir(), "rc")
		code, _, errs := aempRC(t, rc, tc.args...)
		if code != 0 {
			t.Errorf("%q: exit %d: %s", tc.args, code, errs)
			continue
		}
		f, err := config.Load(rc)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := f.Root[tc.key]
		got := "-"
		if ok {
			var b bytes.Buffer
			json.Compact(&b, config.Encode(v))
			got = b.String()
		}
		if got != tc.want {
			t.Errorf("%q: %s = %s; want %s", tc.args, tc.key, got, tc.want)
		}
	}
}

func TestConfigShow(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "rc")
	os.WriteFile(rc, []byte(`# written by hand
{"version": 1, "secret": "top", "seeds": ["s:1"],
 "profile": {"base": {"binds": ["*:4040"], "nodeid": "b"},
             "web": {"parent": "base", "monitor_timeout": 5},},}`), 0o600)
	orig := readRC(t, rc)
	code, out, errs := aempRC(t, rc, "showconfig", "web", "connect_interval", "7", "seeds", `["ignored"]`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := `{
   "auth_accept" : [
      "tls_md6_64_256",
      "hmac_md6_64_256",
      "tls_anon",
      "cleartext"
   ],
   "auth_offer" : [
      "tls_md6_64_256",
      "hmac_md6_64_256"
   ],
   "binds" : [
      "*:4040"
   ],
   "connect_interval" : "7",
   "framing_format" : [
      "json",
      "storable"
   ],
   "monitor_timeout" : 5,
   "nodeid" : "b",
   "secret" : "top",
   "seeds" : [
      "s:1"
   ],
   "version" : 1
}
`
	if out != want {
		t.Errorf("showconfig web:\n%s\nwant:\n%s", out, want)
	}
	if code, out, _ = aempRC(t, rc, "showprofile", "web"); code != 0 || out != "{\n   \"monitor_timeout\" : 5,\n   \"parent\" : \"base\"\n}\n" {
		t.Errorf("showprofile web: exit %d\n%s", code, out)
	}
	if code, out, _ = aempRC(t, rc, "showprofile", "nosuch"); code != 0 || out != "{}\n" {
		t.Errorf("showprofile nosuch: exit %d %q", code, out)
	}
	configHostname = func() (string, error) { return "web", nil }
	defer func() { configHostname = os.Hostname }()
	code, out2, _ := aempRC(t, rc, "showconfig")
	if code != 0 || !strings.Contains(out2, `"monitor_timeout" : 5`) {
		t.Errorf("showconfig without a name does not use the host name's profile: exit %d\n%s", code, out2)
	}
	if readRC(t, rc) != orig {
		t.Errorf("showing changed the file")
	}
	// After a change on the same line, Perl's dirty counter shows.
	code, out, _ = aempRC(t, rc, "setnodeid", "x", "showconfig", "nosuch")
	if code != 0 || !strings.Contains(out, `"dirty" : 1,`) || !strings.Contains(out, `"nodeid" : "x"`) {
		t.Errorf("showconfig after a change: exit %d\n%s", code, out)
	}
	if f := readRC(t, rc); strings.Contains(f, "dirty") || strings.Contains(f, "written by hand") {
		t.Errorf("saved file:\n%s", f)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "rc")
	const start = "{\"version\":1,\"secret\":\"keep\"}\n"
	notJSON := filepath.Join(dir, "bad")
	os.WriteFile(notJSON, []byte("secret = x\n"), 0o600)
	loop := filepath.Join(dir, "loop")
	os.WriteFile(loop, []byte(`{"profile":{"a":{"parent":"b"},"b":{"parent":"a"}}}`), 0o600)
	pem := filepath.Join(dir, "not.pem")
	os.WriteFile(pem, []byte("hello\n"), 0o600)
	for _, tc := range []struct {
		rc   string
		args []string
		code int
		msg  string
	}{
		{rc, []string{"setnodeid", "x", "setseeds"}, 2, "aemp: setseeds: seed addresses missing"},
		{rc, []string{"profile"}, 2, "aemp: profile: profile name is missing"},
		{rc, []string{"setsecret"}, 2, "aemp: setsecret: shared secret missing"},
		{rc, []string{"setmonitor_timeout"}, 2, "aemp: setmonitor_timeout: monitor_timeout value is missing"},
		{rc, []string{"setnodeid", "x", "frobnicate"}, 2, "aemp: frobnicate: no such aemp command"},
		{rc, []string{"setnodeid", "x", `["a"]`}, 2, `aemp: ["a"]: no such aemp command`},
		{rc, []string{"setseeds", "[oops"}, 2, "aemp: [oops: "},
		{rc, []string{"setnodeid", "x", "setcert", filepath.Join(dir, "missing.pem")}, 1, "aemp: setcert: open "},
		{rc, []string{"setnodeid", "x", "setcert", pem}, 1, "aemp: setcert: " + pem + ": no PEM private key and certificate found"},
		{notJSON, []string{"setnodeid", "x"}, 1, "aemp: " + notJSON + ": not a valid configuration file: "},
		{notJSON, []string{"showconfig"}, 1, "aemp: " + notJSON + ": not a valid configuration file: "},
		{loop, []string{"showconfig", "a"}, 1, "aemp: showconfig: profile loop: a -> b -> a"},
		{"/dev/null", []string{"setsecret", "x"}, 1, "aemp: /dev/null: not a regular file"},
		{"", []string{"setsecret", "x"}, 1, "aemp: no configuration file to write"},
	} {
		os.WriteFile(rc, []byte(start), 0o600)
		before := map[string]string{}
		for _, f := range []string{rc, notJSON, loop} {
			before[f] = readRC(t, f)
		}
		code, out, errs := aempRC(t, tc.rc, tc.args...)
		if code != tc.code || !strings.HasPrefix(errs, tc.msg) || strings.Count(errs, "\n") != 1 || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and one line starting %q", tc.args, code, out, errs, tc.code, tc.msg)
		}
		for f, b := range before {
			if readRC(t, f) != b {
				t.Errorf("%q changed %s", tc.args, f)
			}
		}
		if _, err := os.Stat(rc + "~"); err == nil {
			t.Errorf("%q wrote the file", tc.args)
		}
	}
}

func TestConfigHelp(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "rc")
	for _, args := range [][]string{{"config", "--help"}, {"config", "-h"}, {"setnodeid", "x", "--help"}} {
		code, out, _ := aempRC(t, rc, args...)
		if code != 0 || !strings.Contains(out, "showconfig [NAME [KEY VALUE]...]") || !strings.Contains(out, "Exit status") {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
	if code, _, errs := aempRC(t, rc, "config"); code != 2 || !strings.HasPrefix(errs, "usage: aemp CMD") {
		t.Errorf("aemp config: exit %d %q", code, errs)
	}
	for _, c := range cfgCommands {
		code, out, _ := aempRC(t, rc, c.name, "--help")
		if code != 0 || !strings.HasPrefix(out, "usage: aemp "+c.name) || len(out) < 40 {
			t.Errorf("%s --help: exit %d %q", c.name, code, out)
		}
	}
	if _, err := os.Stat(rc); err == nil {
		t.Errorf("help wrote the file")
	}
	if code, out, _ := aempRC(t, rc, "--help"); code != 0 || !strings.Contains(out, "config") {
		t.Errorf("aemp --help does not list config: %s", out)
	}
}

func TestConfigGenerated(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "rc")
	configNow = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	defer func() { configNow = time.Now }()
	if code, _, errs := aempRC(t, rc, "gensecret", "profile", "tls", "gencert"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, _ := config.Load(rc)
	secret, _ := f.Root["secret"].(string)
	if len(secret) < 80 || strings.Trim(secret, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
		t.Errorf("secret %q", secret)
	}
	p, _ := f.Profile("tls", false)
	cert, _ := p["cert"].(string)
	if err := config.CheckCert([]byte(cert)); err != nil || !strings.HasPrefix(cert, "-----BEGIN CERTIFICATE-----\n") {
		t.Errorf("cert: %v\n%s", err, cert)
	}
	// setcert stores a file as it is.
	pemFile := filepath.Join(t.TempDir(), "c.pem")
	os.WriteFile(pemFile, []byte(cert), 0o600)
	if code, _, errs := aempRC(t, rc, "delsecret", "setcert", pemFile, "profile", "tls", "delcert"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, _ = config.Load(rc)
	p, _ = f.Profile("tls", false)
	if f.Root["cert"] != cert || f.Root["secret"] != nil || p["cert"] != nil {
		t.Errorf("after setcert: %v", f.Root)
	}
}

// TestConfigThenCommand: a command that is not a configuration command
// ends the chain; the file is written before it runs.
func TestConfigThenCommand(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "rc")
	data := filepath.Join(dir, "data")
	os.WriteFile(data, []byte("abc"), 0o600)
	code, out, errs := aempRC(t, rc, "setnodeid", "n", "md6sum", data)
	if code != 0 || !strings.HasSuffix(out, "  "+data+"\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if !strings.Contains(readRC(t, rc), `"nodeid" : "n"`) {
		t.Errorf("file not written before the command ran")
	}
}

func TestLoadPerlConfig(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "rc")
	os.WriteFile(rc, []byte(`{"secret": "s", "nodelay": "0", "monitor_timeout": "2.5",
		"profile": {"srv": {"binds": ["*:4040", 4041], "seeds": []}, "aemp": {"parent": "srv"}}}`), 0o600)
	pc, err := loadPerlConfig(rc, "srv")
	if err != nil {
		t.Fatal(err)
	}
	if *pc.NodeID != "srv" || *pc.Secret != "s" || string(*pc.NoDelay) != "false" || *pc.MonitorTimeout != 2.5 ||
		strings.Join(pc.Binds, " ") != "*:4040 4041" || pc.Seeds == nil || len(pc.Seeds) != 0 || pc.Cert != nil {
		t.Errorf("srv: %+v", pc)
	}
	pc, err = loadPerlConfigArgs(rc, "aemp", map[string]any{"nodeid": "anon/", "secret": "below"})
	if err != nil || *pc.NodeID != "anon/" || *pc.Secret != "s" {
		t.Errorf("aemp: %+v %v", pc, err)
	}
	for _, path := range []string{"/dev/null", filepath.Join(t.TempDir(), "none")} {
		pc, err := loadPerlConfig(path, "h")
		if err != nil || *pc.NodeID != "h" || pc.Secret != nil || pc.Binds != nil {
			t.Errorf("%s: %+v %v", path, pc, err)
		}
	}
	os.WriteFile(rc, []byte(`{"profile": {"a": {"parent": "a"}}}`), 0o600)
	if _, err := loadPerlConfig(rc, "a"); err == nil || !strings.Contains(err.Error(), "profile loop") {
		t.Errorf("loop: %v", err)
	}
}

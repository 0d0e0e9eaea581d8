package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aemp-go/aemp/md6"
)

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestMD6Sum(t *testing.T) {
	dir := t.TempDir()
	abc := filepath.Join(dir, "abc")
	if err := os.WriteFile(abc, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args  []string
		stdin string
		code  int
		out   string
	}{
		{[]string{"md6sum", abc}, "", 0, "230637d4e6845cf0d092b558e87625f03881dd53a7439da34cf3b94ed0d8b2c5  " + abc + "\n"},
		{[]string{"md6sum"}, "abc", 0, "230637d4e6845cf0d092b558e87625f03881dd53a7439da34cf3b94ed0d8b2c5  -\n"},
		{[]string{"md6sum", "-d=512", "-"}, "abc", 0, "00918245271e377a7ffb202b90f3bda5477d8feab12d8a3a8994ebc55fe6e74ca8341520032eeea3fdef892f2882378f636212af4b2683ccf80bf025b7d9b457  -\n"},
		// d = 1..4 bits print one digit; d = 12 three (vectors.txt, d=1 of "abc" is 00).
		{[]string{"md6sum", "-d", "1"}, "abc", 0, "0  -\n"},
		{[]string{"md6sum", "-d", "128", "-k", "key"}, "abc", 0, "9b67c660b601d1be66a98f3c8f726f44  -\n"},
		{[]string{"md6sum", "-d", "128", "-K", "6b6579"}, "abc", 0, "9b67c660b601d1be66a98f3c8f726f44  -\n"},
		{[]string{"md6sum", "-d", "0"}, "", 2, ""},
		{[]string{"md6sum", "-r", "256"}, "", 2, ""},
		{[]string{"md6sum", "-L", "65"}, "", 2, ""},
		{[]string{"md6sum", "-K", "zz"}, "", 2, ""},
		{[]string{"md6sum", "-k", "a", "-K", "00"}, "", 2, ""},
		{[]string{"md6sum", "-nosuchflag"}, "", 2, ""},
		{[]string{"md6sum", "-k", strings.Repeat("k", 65)}, "", 2, ""},
	}
	for _, c := range cases {
		code, out, errs := runCmd(t, c.stdin, c.args...)
		if code != c.code || (c.code == 0 && out != c.out) {
			t.Errorf("%v: code %d out %q err %q; want %d %q", c.args, code, out, errs, c.code, c.out)
		}
		if c.code == 2 && !strings.Contains(errs, "usage:") {
			t.Errorf("%v: no usage message: %q", c.args, errs)
		}
	}
	// -L 0 and explicit rounds agree with the library.
	want, _ := md6.SumBits(224, []byte("abc"), 24, md6.WithL(0), md6.WithRounds(7))
	if _, out, _ := runCmd(t, "abc", "md6sum", "-d", "224", "-L", "0", "-r", "7"); !strings.HasPrefix(out, hexDigits(want, 224)+"  ") {
		t.Errorf("-L 0 -r 7: %q", out)
	}
}

func TestMD6SumUnreadable(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	os.WriteFile(ok, nil, 0o600)
	code, out, errs := runCmd(t, "", "md6sum", filepath.Join(dir, "missing"), ok)
	if code != 1 || !strings.Contains(errs, "missing") {
		t.Fatalf("code %d err %q", code, errs)
	}
	if out != "bca38b24a804aa37d821d31af00f5598230122c5bbfc4c4ad5ed40e4258f04ca  "+ok+"\n" {
		t.Fatalf("the readable file was not hashed: %q", out)
	}
}

func TestMD6SumHelpAndImpl(t *testing.T) {
	code, out, _ := runCmd(t, "", "md6sum", "--help")
	for _, f := range []string{"-d BITS", "-L LEVELS", "-r ROUNDS", "-k KEY", "-K HEXKEY", "-impl", "AEMP_MD6_IMPL"} {
		if code != 0 || !strings.Contains(out, f) {
			t.Errorf("--help: code %d, %q missing", code, f)
		}
	}
	code, out, _ = runCmd(t, "", "md6sum", "--impl")
	if code != 0 || out != md6.Implementation()+"\n" {
		t.Errorf("--impl: %d %q", code, out)
	}
	if code, _, _ := runCmd(t, "", "nosuch"); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
}

// TestMD6SumForcedKernelUnavailable runs this test binary as the aemp
// command with AEMP_MD6_IMPL naming a kernel that cannot be used: the
// choice is made at start-up, so it needs a process of its own.
func TestMD6SumForcedKernelUnavailable(t *testing.T) {
	if os.Getenv("AEMP_TEST_MAIN") == "1" {
		os.Exit(run(strings.Fields(os.Getenv("AEMP_TEST_ARGS")), os.Stdin, os.Stdout, os.Stderr))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMD6SumForcedKernelUnavailable$")
	cmd.Env = append(os.Environ(), "AEMP_TEST_MAIN=1", "AEMP_TEST_ARGS=md6sum --impl", "AEMP_MD6_IMPL=nosuchkernel")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(errb.String(), "nosuchkernel") {
		t.Fatalf("err %v, stderr %q; want exit status 1 naming the kernel", err, errb.String())
	}
}

// TestHelpOnce: every subcommand prints its usage once, on stdout, for
// --help (status 0), and the error plus the usage on stderr for an unknown
// flag (status 2).
func TestHelpOnce(t *testing.T) {
	for _, cmd := range []string{"node", "bench", "md6sum"} {
		code, out, errOut := runCmd(t, "", cmd, "--help")
		if code != 0 || strings.Count(out, "usage: aemp "+cmd) != 1 || errOut != "" {
			t.Errorf("%s --help: status %d, %d usages on stdout, stderr %q", cmd, code, strings.Count(out, "usage: aemp "+cmd), errOut)
		}
		code, out, errOut = runCmd(t, "", cmd, "--no-such-flag")
		if code != 2 || out != "" || !strings.Contains(errOut, "no-such-flag") || strings.Count(errOut, "usage: aemp "+cmd) != 1 {
			t.Errorf("%s --no-such-flag: status %d, stdout %q, stderr %q", cmd, code, out, errOut)
		}
	}
}

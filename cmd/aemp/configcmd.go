package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aemp-go/aemp/config"
)

// The configuration commands of Perl's aemp 1.30, with the same names,
// arguments and effect on the file. They chain: "aemp gensecret profile x
// setnodeid y" runs three commands, then writes the file once.

const configUsage = `usage: aemp CMD [ARG] [CMD [ARG]]...
       aemp config CMD [ARG]...
       aemp CMD --help

Edits the AnyEvent::MP configuration file that Perl nodes and aemp-go read:
$PERL_ANYEVENT_MP_RC if set, else ~/.perl-anyevent-mp. The commands are
those of Perl's aemp 1.30 and may be chained on one command line; they act
on the global settings until "profile NAME" switches the rest of the line
to that profile. The file is written once, at the end, only if a command
changed something: pretty-printed JSON, atomically (a temporary file
renamed over it), the previous file kept as FILE~.

An argument that starts with [, { or " is JSON (an array, an object, a
string); if the only argument after "aemp" starts with [, it is a JSON
array holding the whole command line. Every set command also has a name
without "set" (aemp seeds a,b = aemp setseeds a,b).

node ID, secret, certificate:
  setnodeid ID            the node ID (anon/: a random one)
  delnodeid               remove it (inherit again)
  gensecret               set a new random shared secret
  setsecret SECRET        set the shared secret
  delsecret               remove it
  gencert                 set a new self-signed certificate and key (TLS)
  setcert PEMFILE         set key + certificate (+ CA certificates) from a file
  delcert                 remove it
seeds and binds (HOST:PORT lists, comma-separated or a JSON array):
  setseeds LIST           set the seed addresses ("" for none)
  delseeds                remove them
  addseed HOST:PORT       add one seed
  delseed HOST:PORT       remove one seed
  setbinds LIST           set the listen addresses (*: every address, port *: any)
  delbinds                remove them
  addbind HOST:PORT       add one listen address
  delbind HOST:PORT       remove one listen address
services (kept in the file for Perl nodes; aemp-go runs none):
  setservices LIST        set the services (comma list or JSON array)
  delservices             remove them
  addservice SERVICE      add one service
  delservice SERVICE      remove one instance of a service
profiles:
  profile NAME CMD...     apply the following commands to profile NAME
  setparent NAME          inherit what this profile does not set from NAME
  delparent               inherit from the global settings again
  delprofile NAME         delete profile NAME
  showprofile NAME        print profile NAME's own settings
  showconfig [NAME [KEY VALUE]...]
                          print the settings a node started with profile NAME
                          (default: the host name) gets, with Perl's defaults
low-level transport settings ([set|del]KEY):
  setmonitor_timeout SECONDS    setconnect_interval SECONDS
  setframing_format LIST        setauth_offer LIST       setauth_accept LIST
  setautocork BOOL              setnodelay BOOL
  delmonitor_timeout ... delnodelay   remove the setting

A command that is not a configuration command (snd, node, ...) ends the
chain: the file is written, then that command runs with the rest.

Exit status: 0 on success, 1 if the configuration file cannot be read,
parsed or written, a file named by setcert cannot be used, or a profile's
parent chain loops, 2 on a usage error (unknown command, missing argument).
Nothing is written unless every command succeeded.
`

// cfgArg is one command-line argument: its text and its value after
// Perl's JSON rule.
type cfgArg struct {
	raw string
	val any
}

// cfgCmd is one configuration command.
type cfgCmd struct {
	name string
	arg  string // argument in the usage; "" takes none, "..." all the rest
	help string
	run  func(s *cfgSession, arg any, rest []any) error
}

// cfgSession is a chain of commands working on one file.
type cfgSession struct {
	file    *config.File
	target  map[string]any // the global settings or the selected profile
	stdout  io.Writer
	random  io.Reader
	now     func() time.Time
	hostnam func() (string, error)
}

// dirty counts a change as Perl does, in the document's "dirty" key,
// which showconfig therefore prints and Save removes.
func (s *cfgSession) dirty() {
	n := 0
	if v, ok := s.file.Root["dirty"].(config.Number); ok {
		fmt.Sscan(string(v), &n)
	}
	s.file.Root["dirty"] = config.Number(fmt.Sprint(n + 1))
}

// errUsage marks errors of the command line (exit status 2).
var errUsage = errors.New("usage")

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return errUsage }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

var cfgCommands []cfgCmd

func init() {
	set := func(key string) func(*cfgSession, any, []any) error {
		return func(s *cfgSession, v any, _ []any) error {
			s.target[key] = v
			s.dirty()
			return nil
		}
	}
	del := func(key string) func(*cfgSession, any, []any) error {
		return func(s *cfgSession, _ any, _ []any) error {
			delete(s.target, key)
			s.dirty()
			return nil
		}
	}
	cfgCommands = []cfgCmd{
		{"setnodeid", "ID", "Sets the node ID (anon/ for a random one).", set("nodeid")},
		{"delnodeid", "", "Removes the node ID: it is inherited again (a node's default is its profile name).", del("nodeid")},
		{"gensecret", "", "Sets a new random shared secret (512 random bits in base 62), which authenticates nodes to each other when TLS is not used.", genSecret},
		{"setsecret", "SECRET", "Sets the shared secret; any string will do.", set("secret")},
		{"delsecret", "", "Removes the shared secret: it is inherited again.", del("secret")},
		{"gencert", "", "Sets a new self-signed certificate and its key (RSA 2048, CN=AnyEvent::MP, 3650 days), as Perl's aemp makes with openssl. Nodes that share it use TLS and trust each other.", genCert},
		{"setcert", "PEMFILE", "Sets the certificate from a file holding, in PEM format, the private key, the certificate and any CA certificates to trust.", setCert},
		{"delcert", "", "Removes the certificate: it is inherited again.", del("cert")},
		{"setseeds", "HOST:PORT,...", "Sets the seed addresses, a comma-separated list (or a JSON array) of HOST:PORT; an empty list is allowed.", setList("seeds")},
		{"delseeds", "", "Removes the seed list: it is inherited again.", del("seeds")},
		{"addseed", "HOST:PORT", "Adds one seed address (moved to the end if present).", addItem("seeds")},
		{"delseed", "HOST:PORT", "Removes one seed address, if present.", delItem("seeds")},
		{"setbinds", "HOST:PORT,...", "Sets the listen addresses, a comma-separated list (or a JSON array) of HOST:PORT. Host * is every local address; port * or no port is one the system picks.", setList("binds")},
		{"delbinds", "", "Removes the bind list: it is inherited again.", del("binds")},
		{"addbind", "HOST:PORT", "Adds one listen address (moved to the end if present).", addItem("binds")},
		{"delbind", "HOST:PORT", "Removes one listen address, if present.", delItem("binds")},
		{"setservices", "SERVICE,...", "Sets the services Perl nodes start: a comma-separated list or a JSON array (Module:: loads a module, Module::function calls it, [\"Module::function\", ARGS...] calls it with arguments). aemp-go keeps them in the file but runs none.", setList("services")},
		{"delservices", "", "Removes the service list: it is inherited again.", del("services")},
		{"addservice", "SERVICE", "Adds one service (a service may be listed more than once).", addService},
		{"delservice", "SERVICE", "Removes the first instance of a service, if present.", delService},
		{"profile", "NAME", "Makes the following commands act on profile NAME instead of the global settings; creates the profile if needed.", selectProfile},
		{"setparent", "NAME", "Sets the parent profile: what this profile does not set is taken from NAME, then from NAME's parent, and so on, then from the global settings.", set("parent")},
		{"delparent", "", "Removes the parent: the profile inherits from the global settings again.", del("parent")},
		{"delprofile", "NAME", "Deletes profile NAME.", delProfile},
		{"showprofile", "NAME", "Prints profile NAME's own settings as JSON (nothing inherited).", showProfile},
		{"showconfig", "[NAME [KEY VALUE]...]", "Prints the settings a node started with profile NAME (default: the host name) and configure arguments KEY VALUE... gets: Perl's built-in defaults, the arguments, the global settings, the parent chain, the profile.", showConfig},
	}
	for _, key := range []string{"monitor_timeout", "connect_interval", "framing_format", "auth_offer", "auth_accept", "autocork", "nodelay"} {
		what := map[string]string{
			"monitor_timeout":  "SECONDS",
			"connect_interval": "SECONDS",
			"autocork":         "BOOL",
			"nodelay":          "BOOL",
		}[key]
		if what == "" {
			what = "LIST"
		}
		cfgCommands = append(cfgCommands,
			cfgCmd{"set" + key, what, lowLevelHelp[key], set(key)},
			cfgCmd{"del" + key, "", "Removes " + key + ": the default applies again.", del(key)})
	}
	for _, c := range slices.Clone(cfgCommands) {
		if name, ok := strings.CutPrefix(c.name, "set"); ok {
			c.name = name
			cfgCommands = append(cfgCommands, c)
		}
	}
}

var lowLevelHelp = map[string]string{
	"monitor_timeout":  "Sets how many seconds a connection may take to come up before the node is declared unreachable (default 30). The value is stored as given (a string unless given as JSON).",
	"connect_interval": "Sets how many seconds to wait before trying the next address of a node (default 2).",
	"framing_format":   "Sets the framings offered, in order of preference, as a JSON array (default [\"json\",\"storable\"] in Perl 1.30; aemp-go: cbor, json, storable).",
	"auth_offer":       "Sets the authentication methods this node may use, in order of preference, as a JSON array (default [\"tls_md6_64_256\",\"hmac_md6_64_256\"]).",
	"auth_accept":      "Sets the authentication methods other nodes may use, as a JSON array (default [\"tls_md6_64_256\",\"hmac_md6_64_256\",\"tls_anon\",\"cleartext\"]).",
	"autocork":         "Sets whether writes are coalesced (Perl's AnyEvent::Handle autocork; default off; aemp-go ignores it).",
	"nodelay":          "Sets TCP_NODELAY (default on; 0 or \"\" turn it off).",
}

// wrap breaks text into lines of at most width characters at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(text) {
		switch {
		case i == 0:
		case n+1+len(w) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// missingText says what a command's missing argument is, in the words of
// Perl's aemp where they fit.
func missingText(name string) string {
	base := strings.TrimPrefix(name, "set")
	switch base {
	case "nodeid":
		return "node ID missing"
	case "secret":
		return "shared secret missing"
	case "cert":
		return "key+certificate pem filename missing"
	case "binds", "seeds":
		return base[:len(base)-1] + " addresses missing"
	case "addbind", "delbind", "addseed", "delseed":
		return base[3:] + " address missing"
	case "services":
		return "service specifications missing"
	case "addservice", "delservice":
		return "service specification missing"
	case "profile", "delprofile", "showprofile", "parent":
		return "profile name is missing"
	}
	return base + " value is missing"
}

func findCfgCmd(name string) *cfgCmd {
	for i := range cfgCommands {
		if cfgCommands[i].name == name {
			return &cfgCommands[i]
		}
	}
	return nil
}

// isConfigCommand reports whether args start a chain of configuration
// commands (also in the one-JSON-array form).
func isConfigCommand(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if len(args) == 1 && strings.HasPrefix(args[0], "[") {
		if v, err := config.Decode([]byte(args[0]), false); err == nil {
			if a, ok := v.([]any); ok && len(a) > 0 {
				name, _ := a[0].(string)
				return findCfgCmd(name) != nil
			}
		}
		return false
	}
	return findCfgCmd(args[0]) != nil
}

// otherCommand returns the top-level command called name, if it is not a
// configuration command; set in init to break the initialization cycle
// through the command table.
var otherCommand func(name string) func(args []string, stdin io.Reader, stdout, stderr io.Writer) int

func init() {
	otherCommand = func(name string) func(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
		for _, c := range commands {
			if c.name == name && c.name != "config" {
				return c.run
			}
		}
		return nil
	}
}

// Hooks for tests.
var (
	configRandom   io.Reader = rand.Reader
	configNow                = time.Now
	configHostname           = os.Hostname
)

// runConfig implements "aemp config CMD..." and "aemp CMD..." for the
// configuration commands.
func runConfig(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, configUsage)
		return 0
	}
	toks, err := cfgArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, "aemp:", err)
		return 2
	}
	type step struct {
		cmd  *cfgCmd
		arg  any
		rest []any
	}
	var steps []step
	var next []string // a non-configuration command and its arguments
	for i := 0; i < len(toks); {
		name, ok := toks[i].val.(string)
		if name == "--help" || name == "-h" {
			fmt.Fprint(stdout, configUsage)
			return 0
		}
		if !ok {
			fmt.Fprintf(stderr, "aemp: %s: no such aemp command (aemp config --help lists them)\n", toks[i].raw)
			return 2
		}
		c := findCfgCmd(name)
		if c == nil {
			if otherCommand(name) != nil && i > 0 {
				for _, t := range toks[i:] {
					next = append(next, t.raw)
				}
				break
			}
			fmt.Fprintf(stderr, "aemp: %s: no such aemp command (aemp config --help lists them)\n", name)
			return 2
		}
		i++
		if i < len(toks) && (toks[i].raw == "--help" || toks[i].raw == "-h") {
			fmt.Fprintf(stdout, "usage: %s\n\n%s\n", strings.TrimSpace("aemp "+c.name+" "+c.arg), wrap(c.help, 72))
			return 0
		}
		st := step{cmd: c}
		switch {
		case c.arg == "":
		case c.name == "showconfig":
			for ; i < len(toks); i++ {
				st.rest = append(st.rest, toks[i].val)
			}
		default:
			if i >= len(toks) {
				fmt.Fprintf(stderr, "aemp: %s: %s (usage: aemp %s %s)\n", c.name, missingText(c.name), c.name, c.arg)
				return 2
			}
			st.arg = toks[i].val
			i++
		}
		steps = append(steps, st)
	}
	f, err := config.Load(config.Path())
	if err != nil {
		fmt.Fprintln(stderr, "aemp:", err)
		return 1
	}
	s := &cfgSession{file: f, target: f.Root, stdout: stdout, random: configRandom, now: configNow, hostnam: configHostname}
	for _, st := range steps {
		if err := st.cmd.run(s, st.arg, st.rest); err != nil {
			fmt.Fprintf(stderr, "aemp: %s: %v\n", st.cmd.name, err)
			if errors.Is(err, errUsage) {
				return 2
			}
			return 1
		}
	}
	if d, ok := f.Root["dirty"]; ok {
		delete(f.Root, "dirty")
		if config.PerlTrue(d) {
			if err := f.Save(); err != nil {
				fmt.Fprintln(stderr, "aemp:", err)
				return 1
			}
		}
	}
	if next != nil {
		return otherCommand(next[0])(next[1:], stdin, stdout, stderr)
	}
	return 0
}

// cfgArgs applies Perl aemp's argument rule: a single argument starting
// with [ is a JSON array replacing all arguments; otherwise each argument
// starting with [, { or " is replaced by the JSON value it holds.
func cfgArgs(args []string) ([]cfgArg, error) {
	if len(args) == 1 && strings.HasPrefix(args[0], "[") {
		v, err := config.Decode([]byte(args[0]), false)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", args[0], err)
		}
		a, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: not a JSON array", args[0])
		}
		out := make([]cfgArg, len(a))
		for i, e := range a {
			raw, scalar := config.PerlString(e)
			if _, isStr := e.(string); !isStr || !scalar {
				raw = strings.TrimSpace(string(config.Encode(e)))
			}
			out[i] = cfgArg{raw, e}
		}
		return out, nil
	}
	out := make([]cfgArg, len(args))
	for i, a := range args {
		out[i] = cfgArg{a, a}
		if !utf8.ValidString(a) {
			return nil, fmt.Errorf("argument %d is not valid UTF-8", i+1)
		}
		if a != "" && strings.ContainsRune(`[{"`, rune(a[0])) {
			v, err := config.Decode([]byte(a), false)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", a, err)
			}
			out[i].val = v
		}
	}
	return out, nil
}

func genSecret(s *cfgSession, _ any, _ []any) error {
	secret, err := config.GenSecret(s.random)
	if err != nil {
		return err
	}
	s.target["secret"] = secret
	s.dirty()
	return nil
}

func genCert(s *cfgSession, _ any, _ []any) error {
	pem, err := config.GenCert(s.random, s.now())
	if err != nil {
		return err
	}
	s.target["cert"] = pem
	s.dirty()
	return nil
}

func setCert(s *cfgSession, arg any, _ []any) error {
	name, ok := arg.(string)
	if !ok {
		return usagef("expected a file name")
	}
	text, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if err := config.CheckCert(text); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	s.target["cert"] = string(text)
	s.dirty()
	return nil
}

// setList stores a JSON array (or object, or boolean) as given and splits
// anything else at commas, dropping trailing empty fields as Perl's split
// does ("" is the empty list).
func setList(key string) func(*cfgSession, any, []any) error {
	return func(s *cfgSession, arg any, _ []any) error {
		switch arg.(type) {
		case []any, map[string]any, bool:
			s.target[key] = arg
		default:
			text, _ := config.PerlString(arg)
			s.target[key] = perlSplitComma(text)
		}
		s.dirty()
		return nil
	}
}

func perlSplitComma(s string) []any {
	fields := strings.Split(s, ",")
	for len(fields) > 0 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1]
	}
	out := make([]any, len(fields))
	for i, f := range fields {
		out[i] = f
	}
	return out
}

// listOf returns the list under key, an empty one if absent.
func listOf(m map[string]any, key string) ([]any, error) {
	switch l := m[key].(type) {
	case []any:
		return l, nil
	case nil:
		return []any{}, nil
	}
	return nil, fmt.Errorf("%s is not a list (a JSON array); fix it with set%s or del%s", key, key, key)
}

// perlEq compares as Perl's eq: scalars by their text; arrays and objects
// are never equal to anything given on the command line.
func perlEq(a, b any) bool {
	x, ok1 := config.PerlString(a)
	y, ok2 := config.PerlString(b)
	return ok1 && ok2 && x == y
}

func without(l []any, v any) []any {
	out := []any{}
	for _, e := range l {
		if !perlEq(e, v) {
			out = append(out, e)
		}
	}
	return out
}

func addItem(key string) func(*cfgSession, any, []any) error {
	return func(s *cfgSession, arg any, _ []any) error {
		l, err := listOf(s.target, key)
		if err != nil {
			return err
		}
		s.target[key] = append(without(l, arg), arg)
		s.dirty()
		return nil
	}
}

func delItem(key string) func(*cfgSession, any, []any) error {
	return func(s *cfgSession, arg any, _ []any) error {
		l, err := listOf(s.target, key)
		if err != nil {
			return err
		}
		s.target[key] = without(l, arg)
		s.dirty()
		return nil
	}
}

func addService(s *cfgSession, arg any, _ []any) error {
	l, err := listOf(s.target, "services")
	if err != nil {
		return err
	}
	s.target["services"] = append(slices.Clone(l), arg)
	s.dirty()
	return nil
}

func delService(s *cfgSession, arg any, _ []any) error {
	l, err := listOf(s.target, "services")
	if err != nil {
		return err
	}
	l = slices.Clone(l)
	if i := slices.IndexFunc(l, func(e any) bool { return perlEq(e, arg) }); i >= 0 {
		l = slices.Delete(l, i, i+1)
	}
	s.target["services"] = l
	s.dirty()
	return nil
}

func profileName(arg any) (string, error) {
	name, ok := config.PerlString(arg)
	if !ok {
		return "", usagef("a profile name must be a string")
	}
	return name, nil
}

func selectProfile(s *cfgSession, arg any, _ []any) error {
	name, err := profileName(arg)
	if err != nil {
		return err
	}
	p, err := s.file.Profile(name, true)
	if err != nil {
		return err
	}
	s.target = p
	s.dirty()
	return nil
}

func delProfile(s *cfgSession, arg any, _ []any) error {
	name, err := profileName(arg)
	if err != nil {
		return err
	}
	ps, err := s.file.Profiles()
	if err != nil {
		return err
	}
	delete(ps, name)
	s.dirty()
	return nil
}

func showProfile(s *cfgSession, arg any, _ []any) error {
	name, err := profileName(arg)
	if err != nil {
		return err
	}
	ps, err := s.file.Profiles()
	if err != nil {
		return err
	}
	p := ps[name]
	if !config.PerlTrue(p) {
		p = map[string]any{}
	}
	_, err = s.stdout.Write(config.Encode(p))
	return err
}

func showConfig(s *cfgSession, _ any, rest []any) error {
	var name string
	if len(rest) > 0 {
		var err error
		if name, err = profileName(rest[0]); err != nil {
			return err
		}
		rest = rest[1:]
	} else {
		h, err := s.hostnam()
		if err != nil {
			return err
		}
		name = h
	}
	kv := map[string]any{}
	for i := 0; i < len(rest); i += 2 {
		k, ok := config.PerlString(rest[i])
		if !ok {
			return usagef("a configuration key must be a string")
		}
		var v any
		if i+1 < len(rest) {
			v = rest[i+1]
		}
		kv[k] = v
	}
	eff, err := s.file.Effective(name, kv)
	if err != nil {
		return err
	}
	delete(eff, "profile")
	delete(eff, "parent")
	_, err = s.stdout.Write(config.Encode(eff))
	return err
}

// Package config reads and writes AnyEvent::MP's configuration file, the
// JSON file that Perl's aemp utility edits and every Perl node reads at
// start-up (docs/protocol.md, section "Configuration"): global settings at
// the top level, named profiles under "profile", each profile inheriting
// from its "parent" profile and finally from the top level.
//
// A File may be used by one goroutine at a time.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// EnvFile is the environment variable that names the configuration file.
const EnvFile = "PERL_ANYEVENT_MP_RC"

// Path returns the configuration file's path as AnyEvent::MP::Config
// chooses it: $PERL_ANYEVENT_MP_RC when set (even if empty, which means
// no file), else $HOME/.perl-anyevent-mp, else
// $APPDATA/perl-anyevent-mp.
func Path() string {
	if p, ok := os.LookupEnv(EnvFile); ok {
		return p
	}
	if h, ok := os.LookupEnv("HOME"); ok {
		return h + "/.perl-anyevent-mp"
	}
	return os.Getenv("APPDATA") + "/perl-anyevent-mp"
}

// ErrNotObject is wrapped when the file, the "profile" section or a
// profile is JSON but not an object.
var ErrNotObject = errors.New("not a JSON object")

// File is a configuration document together with the path it came from.
type File struct {
	// Path is where Load read the document and Save writes it.
	Path string
	// Root is the whole document. Keys aemp-go does not know are kept.
	Root map[string]any
}

// New returns the document Perl starts from when there is no file:
// {"version": 1}.
func New(path string) *File {
	return &File{Path: path, Root: map[string]any{"version": Number("1")}}
}

// Load reads the file at path. A missing file, an empty path and a file
// holding nothing but white space and comments (/dev/null) give New's
// empty document, as in Perl. Unlike Perl, which silently starts afresh,
// a file that cannot be read or is not a JSON object is an error (wrapping
// ErrSyntax or ErrNotObject), so that a later Save cannot overwrite it.
func Load(path string) (*File, error) {
	if path == "" {
		return New(path), nil
	}
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(path), nil
	}
	if err != nil {
		return nil, err
	}
	f, err := Parse(path, text)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Parse decodes text (relaxed JSON, see Decode) as a configuration
// document that Load read from path.
func Parse(path string, text []byte) (*File, error) {
	if blank(text) {
		return New(path), nil
	}
	v, err := Decode(text, true)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid configuration file: %w", path, err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: %w at the top level", path, ErrNotObject)
	}
	return &File{Path: path, Root: root}, nil
}

// blank reports whether text holds only white space and #-comments.
func blank(text []byte) bool {
	d := decoder{in: text, relaxed: true}
	d.ws()
	return d.pos == len(text)
}

// Bytes returns the document as Perl's aemp writes it: JSON::XS pretty
// printing (with keys sorted, where Perl's order is its hash order)
// followed by an empty line.
func (f *File) Bytes() []byte {
	return append(Encode(f.Root), '\n')
}

// Save writes the document atomically: to a temporary file in the same
// directory, synced, then renamed over the file, so that a reader sees
// either the old or the new text. The previous file is kept as FILE~
// (a hard link, as Perl makes it, or a copy where links fail). A symbolic
// link is followed: its target is replaced. Save refuses to replace
// anything but a regular file (PERL_ANYEVENT_MP_RC=/dev/null). A new
// file is made readable by its owner only, since it may hold a secret; a
// replaced one keeps its permissions.
func (f *File) Save() error {
	if f.Path == "" {
		return errors.New("no configuration file to write (PERL_ANYEVENT_MP_RC is empty)")
	}
	path := f.Path
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	mode := fs.FileMode(0o600)
	old, err := os.Stat(path)
	switch {
	case err == nil && !old.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file; configuration not written", f.Path)
	case err == nil:
		mode = old.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+"~new~*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(f.Bytes()); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if old != nil {
		backup := path + "~"
		os.Remove(backup)
		if os.Link(path, backup) != nil {
			if err := copyFile(path, backup, mode); err != nil {
				return fmt.Errorf("keeping the old file as %s: %w", backup, err)
			}
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func copyFile(from, to string, mode fs.FileMode) error {
	text, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, text, mode)
}

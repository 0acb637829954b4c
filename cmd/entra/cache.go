package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/store"
)

var _ = register(&command{
	name:    "cache",
	summary: "list or clear the encrypted token cache that 'entra token' uses",
	help:    printCacheUsage,
	run:     runCache,
})

const cacheUsage = `usage: entra cache ls|clear [--cache-dir DIR]

'entra token' keeps tokens (and signed-in accounts) in an encrypted file
cache, so a second run within a token's lifetime asks Entra for nothing:
one 0600 file per entry in a 0700 directory (default: the user cache
directory's "entra", e.g. ~/.cache/entra), sealed with AES-256-GCM under a
key kept apart from it (ENTRA_CACHE_KEY, 64 hex digits, else a key file
created on first use in the user config directory, e.g.
~/.config/entra/cache.key, mode 0600). A copy of the cache directory alone
reveals nothing. A cached token is served to any run for the same
authority, tenant, client and scopes (whatever secret it passes), as the
Azure CLI's cache does: clear the cache when you revoke a credential.

  ls      list the entries: key (authority, tenant, client, scopes; never a
          token), expiry, size, and why an entry is unusable
  clear   delete every entry (signed-in accounts included)

Examples:
  entra cache ls
  entra cache clear
  entra cache ls --cache-dir /tmp/entra-cache

`

func printCacheUsage(w io.Writer) {
	fmt.Fprint(w, cacheUsage+exitCodes)
}

func runCache(ctx context.Context, args []string, s stdio) error {
	fs := flag.NewFlagSet("cache", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("cache-dir", "", "cache `directory` (default: the user cache directory's entra)")
	jsonOut := fs.Bool("json", false, "ls: print JSON")
	if len(args) == 0 {
		return usageError{"missing subcommand: ls or clear"}
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCacheUsage(s.out)
			return nil
		}
		return usageError{err.Error() + " (run 'entra cache -h')"}
	}
	if sub == "-h" || sub == "--help" || sub == "help" {
		printCacheUsage(s.out)
		return nil
	}
	if sub != "ls" && sub != "clear" {
		return usageError{fmt.Sprintf("unknown cache subcommand %q: ls or clear", sub)}
	}
	files, err := openCache(*dir)
	if err != nil {
		return err
	}
	if sub == "clear" {
		n, err := files.Clear(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.errOut, "cleared %d entries in %s\n", n, files.Dir())
		return nil
	}
	entries, err := files.List(ctx)
	if err != nil {
		return err
	}
	if *jsonOut {
		type shown struct {
			Key     string    `json:"key"`
			Expires time.Time `json:"expires"`
			Size    int64     `json:"size"`
			Problem string    `json:"problem,omitempty"`
		}
		out := []shown{}
		for _, e := range entries {
			sh := shown{Key: e.Key, Expires: e.Expires, Size: e.Size}
			if e.Err != nil {
				sh.Problem = e.Err.Error()
			}
			out = append(out, sh)
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EXPIRES\tSIZE\tKEY")
	for _, e := range entries {
		key, exp := e.Key, e.Expires.Local().Format(time.DateTime)
		if e.Err != nil {
			key, exp = filepath.Base(e.File)+" (unusable: "+e.Err.Error()+")", "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", exp, e.Size, key)
	}
	tw.Flush()
	fmt.Fprintf(s.errOut, "%d entries in %s\n", len(entries), files.Dir())
	return nil
}

// openCache opens the CLI's encrypted file cache in dir ("" = default).
func openCache(dir string) (*store.File, error) {
	key, err := cacheKey()
	if err != nil {
		return nil, err
	}
	ring, err := store.NewKeyRing(key)
	if err != nil {
		return nil, err
	}
	return store.NewFile(ring, &store.FileOptions{Dir: dir})
}

// cacheKey returns ENTRA_CACHE_KEY, else the key in the user config
// directory's entra/cache.key, made (0600, in a 0700 directory) on first
// use.
func cacheKey() ([]byte, error) {
	if v := os.Getenv("ENTRA_CACHE_KEY"); v != "" {
		k, err := store.ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("ENTRA_CACHE_KEY: %w", err)
		}
		return k, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return nil, errors.New("entra: no user config directory for the cache key: set ENTRA_CACHE_KEY (openssl rand -hex 32), or pass --no-cache")
	}
	path := filepath.Join(cfg, "entra", "cache.key")
	if b, err := os.ReadFile(path); err == nil {
		fi, serr := os.Stat(path)
		if serr == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("entra: %s is readable by other users (mode %v): chmod 600 it, or delete it and the cache ('entra cache clear')", path, fi.Mode().Perm())
		}
		k, err := store.ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("entra: %s: %w (delete it to make a new one; the cache is then cleared)", path, err)
		}
		return k, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("entra: reading the cache key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("entra: making the cache key's directory: %w", err)
	}
	k := make([]byte, store.KeySize)
	if _, err := randRead(k); err != nil {
		return nil, err
	}
	// Written whole to a temporary file, then linked into place: a
	// concurrent first run sees no key or the whole key, never a part.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cache.key-*")
	if err != nil {
		return nil, fmt.Errorf("entra: writing the cache key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := fmt.Fprintf(tmp, "%x\n", k)
	if serr := tmp.Sync(); werr == nil {
		werr = serr
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o600)
	}
	if werr != nil {
		return nil, fmt.Errorf("entra: writing the cache key: %w", werr)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return cacheKey() // another run made it first: use that one
	} else if err != nil {
		return nil, fmt.Errorf("entra: writing the cache key: %w", err)
	}
	return k, nil
}

// rememberedAccount is the Store key under which 'entra token' keeps the
// account a user flow last signed in, per authority, tenant and client.
func rememberedAccount(host, tenant, client string) string {
	return "entra/v1/cli/account/" + host + "/" + tenant + "/" + client
}

// loadAccount returns the account remembered under key, if any.
func loadAccount(ctx context.Context, st entra.Store, key string) (entra.Account, bool) {
	b, err := st.Load(ctx, key)
	if err != nil {
		return entra.Account{}, false
	}
	var a entra.Account
	if json.Unmarshal(b, &a) != nil || a.HomeAccountID == "" {
		return entra.Account{}, false
	}
	return a, true
}

// randRead fills b with random bytes.
func randRead(b []byte) (int, error) { return rand.Read(b) }

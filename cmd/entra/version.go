package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

var _ = register(&command{
	name:    "version",
	summary: "print the version of entra and of Go it was built with",
	help: func(w io.Writer) {
		fmt.Fprint(w, "usage: entra version\n\nPrints one line, e.g. \"entra v0.3.0 (go1.25.0 linux/amd64)\"; a build from a work tree says \"(devel)\".\n\n"+
			"Examples:\n  entra version\n\n"+exitCodes)
	},
	run: func(_ context.Context, args []string, s stdio) error {
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			commands["version"].help(s.out)
			return nil
		}
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unexpected argument %q", args[0])}
		}
		_, err := fmt.Fprintln(s.out, versionLine())
		return err
	},
})

// versionLine is what "entra version" prints, e.g.
// "entra v0.3.0 (go1.25.0 linux/amd64)"; a build from a work tree says
// "(devel)".
func versionLine() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("entra %s (%s %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

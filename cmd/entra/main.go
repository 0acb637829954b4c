// Command entra is the entra SDK's command-line tool.
//
//	entra emulator [--addr 127.0.0.1:0] [--cloud public] [--token-lifetime 0] [--auto-approve] [--dir DIR]
//	entra help [command]
//	entra version
//
// "entra emulator" starts the built-in Entra ID emulator (package entratest)
// with a seeded demo directory, prints one JSON line describing it on
// standard output and serves until interrupted (Ctrl-C or SIGTERM).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

const usage = `usage: entra <command> [flags]

commands:
  emulator   start the local Entra ID emulator with a demo directory, print its
             settings as one JSON line, and serve until Ctrl-C (or SIGTERM)
  help       show help for a command: entra help emulator
  version    print the version of entra and of Go it was built with

Run 'entra help <command>' or 'entra <command> -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code: 0 on
// success or help, 2 for a bad command line, 1 for other failures. Each
// error is printed once, on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "emulator":
		err = runEmulator(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		err = runHelp(args[1:], stdout)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionLine())
	default:
		fmt.Fprintf(stderr, "entra: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "entra %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "entra %s: %v\n", args[0], err)
		return 1
	}
}

// runHelp prints the help of a command, or the overview, to stdout.
func runHelp(args []string, stdout io.Writer) error {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, usage)
	case len(args) > 1:
		return usageError{"help takes one command name"}
	case args[0] == "emulator":
		printEmulatorUsage(stdout)
	case args[0] == "help" || args[0] == "version":
		fmt.Fprint(stdout, usage)
	default:
		return usageError{fmt.Sprintf("unknown command %q: run 'entra help' for the list", args[0])}
	}
	return nil
}

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

// usageError marks a bad command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Command entra is the entra SDK's command-line tool.
//
// Today it has one subcommand:
//
//	entra emulator [--addr 127.0.0.1:0] [--cloud public] [--token-lifetime 1h] [--auto-approve]
//
// which starts the built-in Entra ID emulator (package entratest) with a seeded demo
// directory and prints one JSON line describing it on standard output.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: entra <command> [flags]

commands:
  emulator   start the local Entra ID emulator with a demo directory and print its
             settings as one JSON line (runs until interrupted)

Run 'entra <command> -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "emulator":
		err = runEmulator(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
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

// usageError marks a bad command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Command entra is the entra SDK's command-line tool.
//
//	entra token    [flags]           get an access token (secret, certificate, device code, browser)
//	entra inspect  [flags] [TOKEN]   explain a token and the known mistakes it shows
//	entra emulator [flags]           start the local Entra ID emulator
//	entra demo                       walk through every flow against an in-process emulator
//	entra cache    ls|clear          list or clear the encrypted token cache
//	entra version
//	entra help [command]
//
// Exit status: 0 success (or help); 1 failure, or "inspect" found an
// error-severity finding; 2 bad command line, or "inspect" was given
// something that is not a JWT. Results go to standard output; prompts,
// progress and errors (one line each, with a hint) to standard error.
//
// Each command lives in its own file and registers itself with register.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"unicode"
)

// command is one subcommand. run returns nil, a usageError (exit 2), an
// exitStatus (exit with that code, nothing printed) or another error
// (printed on one line, exit 1).
type command struct {
	name    string
	summary string            // one line for the overview
	help    func(w io.Writer) // full help: usage, flags, examples, exit status
	run     func(ctx context.Context, args []string, s stdio) error
}

// stdio is what a command reads and writes.
type stdio struct {
	in          io.Reader
	out, errOut io.Writer
}

// commands is filled by register from each command's file.
var commands = map[string]*command{}

// register adds c to the commands; each command file calls it once in a
// package-level declaration (var _ = register(...)).
func register(c *command) bool {
	commands[c.name] = c
	return true
}

// exitCodes is the shared "Exit status" section of the help texts.
const exitCodes = `Exit status:
  0  success
  1  failure (the error is printed on standard error, one line with a hint);
     for inspect: a finding of error severity
  2  bad command line (a missing or conflicting flag is named);
     for inspect: the input is not a JWT
`

func usage() string {
	var b strings.Builder
	b.WriteString("usage: entra <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s  %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(&b, "  %-9s  %s\n", "help", "show help for a command: entra help token")
	b.WriteString("\nRun 'entra help <command>' or 'entra <command> -h' for the flags and examples of a command.\n\n")
	b.WriteString(exitCodes)
	return b.String()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runWith(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, errOut: os.Stderr})
	stop()
	os.Exit(code)
}

// run is runWith without standard input.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdio{in: strings.NewReader(""), out: stdout, errOut: stderr})
}

// runWith dispatches a subcommand and returns the process exit code. Each
// error is printed once, on one line of stderr.
func runWith(ctx context.Context, args []string, s stdio) int {
	if len(args) == 0 {
		fmt.Fprint(s.errOut, usage())
		return 2
	}
	name := args[0]
	var err error
	switch c, ok := commands[name]; {
	case ok:
		err = c.run(ctx, args[1:], s)
	case name == "help" || name == "-h" || name == "-help" || name == "--help":
		err = runHelp(args[1:], s.out)
	case name == "-version" || name == "--version":
		err = commands["version"].run(ctx, nil, s)
	default:
		fmt.Fprintf(s.errOut, "entra: unknown command %q (run 'entra help' for the list)\n", name)
		return 2
	}
	var ue usageError
	var st exitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &st):
		return int(st)
	case errors.As(err, &ue):
		fmt.Fprintf(s.errOut, "entra %s: %s\n", name, oneLine(err.Error()))
		return 2
	default:
		fmt.Fprintf(s.errOut, "entra %s: %s\n", name, oneLine(strings.TrimPrefix(err.Error(), "entra: ")))
		return 1
	}
}

// runHelp prints the help of a command, or the overview, to stdout.
func runHelp(args []string, stdout io.Writer) error {
	switch {
	case len(args) == 0 || args[0] == "help":
		fmt.Fprint(stdout, usage())
	case len(args) > 1:
		return usageError{"help takes one command name"}
	case commands[args[0]] != nil:
		commands[args[0]].help(stdout)
	default:
		return usageError{fmt.Sprintf("unknown command %q: run 'entra help' for the list", args[0])}
	}
	return nil
}

// oneLine joins the lines of s with spaces.
func oneLine(s string) string {
	return safeText(strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", " ")), " "))
}

// safeText replaces the control characters of s (C0, C1, DEL) with "?",
// so text that came from a token or a server cannot drive the terminal.
func safeText(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// usageError marks a bad command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitStatus ends the command with a status and no message (the output
// already said why).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

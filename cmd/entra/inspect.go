package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/entrakit/entra"
)

var _ = register(&command{
	name:    "inspect",
	summary: "explain a token (from an argument or stdin): kind, cloud, audience, expiry and known mistakes",
	help:    printInspectUsage,
	run:     runInspect,
})

const inspectUsage = `usage: entra inspect [flags] [TOKEN | -]

Decodes a token's header and claims WITHOUT verifying its signature and
explains it: access or id token, v1 or v2, cloud, audience (Microsoft
Graph, ARM, your API), app-only or delegated, roles and scopes, tenant,
expiry; then the known mistakes it shows, each with its fix. The token is
read from the argument, or from standard input when there is none (or it
is "-"); a leading "Bearer " is ignored. The token itself is never printed.

Examples:
  entra inspect eyJ0eXAiOiJKV1Qi...
  entra token --scope api://my-api/.default | entra inspect
  entra inspect --target https://graph.microsoft.com/v1.0/me < token.txt
  entra inspect --middle-tier 11111111-2222-3333-4444-555555555555 "$ASSERTION"
  entra inspect --json "$TOKEN" | jq '.findings[].code'
  entra inspect --verify "$TOKEN"        # also check the signature with the tenant's keys

--verify fetches the signing keys of the token's tenant from its cloud's
authority host (a preset; for the emulator or a custom cloud, pass
--authority-host and --ca-file) and checks the signature: "verified", or
the finding bad-signature (exit 1) or not-verified.

Colours are used only when standard output is a terminal (and NO_COLOR is
unset).

flags:
`

type inspectFlags struct {
	json, verify                        bool
	authorityHost, caFile               string
	target, audience, middleTier, appID string
	version                             int
	at                                  string
}

func newInspectFlagSet(f *inspectFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&f.json, "json", false, "print the report as JSON (findings with stable codes) instead of text")
	fs.StringVar(&f.target, "target", "", "`URL` the token is about to be sent to (finds a token of one cloud sent to another cloud's Graph, a Graph token sent to your API, ...)")
	fs.StringVar(&f.audience, "audience", "", "the `audience` the receiving API expects: its client ID or App ID URI")
	fs.StringVar(&f.middleTier, "middle-tier", "", "the token is an on-behalf-of assertion for this middle-tier `client-id` (its aud must be that API: AADSTS50013)")
	fs.StringVar(&f.appID, "middle-tier-uri", "", "the middle tier's App ID `URI`, when not api://<client-id>")
	fs.IntVar(&f.version, "accepted-version", 0, "the receiving API's accessTokenAcceptedVersion (1 or 2)")
	fs.BoolVar(&f.verify, "verify", false, "also verify the signature with the keys the token's tenant publishes (a network request)")
	fs.StringVar(&f.authorityHost, "authority-host", "", "--verify: the authority host `URL` of a custom cloud or the emulator")
	fs.StringVar(&f.caFile, "ca-file", "", "--verify: PEM `file` of extra CA certificates to trust, e.g. the emulator's ca_cert_file")
	fs.StringVar(&f.at, "at", "", "inspect as of `TIME` (RFC 3339 or Unix seconds), e.g. when a request failed; default now")
	return fs
}

func printInspectUsage(w io.Writer) {
	fmt.Fprint(w, inspectUsage)
	fs := newInspectFlagSet(&inspectFlags{})
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\n"+exitCodes)
}

func runInspect(ctx context.Context, args []string, s stdio) error {
	var f inspectFlags
	fs := newInspectFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printInspectUsage(s.out)
			return nil
		}
		return usageError{err.Error() + " (run 'entra inspect -h' for the flags)"}
	}
	if fs.NArg() > 1 {
		return usageError{"give one token (or none, to read it from standard input)"}
	}
	if f.version != 0 && f.version != 1 && f.version != 2 {
		return usageError{"--accepted-version must be 1 or 2"}
	}
	opts := &entra.InspectOptions{TargetURL: f.target, Audience: f.audience, MiddleTierClientID: f.middleTier,
		MiddleTierAppIDURI: f.appID, AcceptedVersion: f.version}
	if f.at != "" {
		at, err := parseTime(f.at)
		if err != nil {
			return err
		}
		opts.Now = at
	}
	raw := fs.Arg(0)
	if raw == "" || raw == "-" {
		if isTerminal(s.in) {
			return usageError{"no token: pass it as an argument or pipe it on standard input"}
		}
		b, err := io.ReadAll(io.LimitReader(s.in, entra.MaxInspectSize+1))
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
		raw = string(b)
	}
	if (f.authorityHost != "" || f.caFile != "") && !f.verify {
		return usageError{"--authority-host and --ca-file are for --verify"}
	}
	var r *entra.Report
	var err error
	if f.verify {
		r, err = verifyReport(ctx, raw, opts, f)
	} else {
		r, err = entra.InspectWith(raw, opts)
	}
	if err != nil {
		fmt.Fprintf(s.errOut, "entra inspect: %s\n", oneLine(strings.TrimPrefix(err.Error(), "entra: inspect: ")))
		return exitStatus(2)
	}
	if f.json {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printReport(s.out, r, colorsFor(s.out))
	}
	if r.HasErrors() {
		return exitStatus(1)
	}
	return nil
}

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usageError{fmt.Sprintf("--at %q: give RFC 3339 (2024-05-01T12:00:00Z) or Unix seconds", v)}
	}
	return t, nil
}

// palette holds ANSI colours, or empty strings.
type palette struct{ bold, red, yellow, cyan, dim, reset string }

func colorsFor(w io.Writer) palette {
	if !isTerminal(w) || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return palette{}
	}
	return palette{bold: "\x1b[1m", red: "\x1b[31m", yellow: "\x1b[33m", cyan: "\x1b[36m", dim: "\x1b[2m", reset: "\x1b[0m"}
}

var audienceNames = map[entra.AudienceKind]string{
	entra.AudienceGraph: "Microsoft Graph", entra.AudienceARM: "Azure Resource Manager",
	entra.AudienceCustom: "your API", entra.AudienceClient: "the client app: an id_token is for it alone",
}

// printReport writes the readable report.
func printReport(w io.Writer, r *entra.Report, p palette) {
	r = printable(r)
	kind := "access token"
	if r.Kind == entra.KindIDToken {
		kind = "id token"
	}
	head := kind
	if r.Version != "" {
		head += " v" + r.Version
	}
	cloud := r.Cloud
	if cloud == "" {
		cloud = "not a Microsoft cloud"
	}
	verified := "(decoded, signature NOT verified)"
	if r.Verified {
		verified = "(signature verified with the tenant's keys)"
	}
	fmt.Fprintf(w, "%s%s%s, cloud %s %s%s%s\n", p.bold, head, p.reset, cloud, p.dim, verified, p.reset)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-10s %s\n", k, v)
		}
	}
	row("audience", strings.Join(r.Audience, " ")+" ("+audienceNames[r.AudienceKind]+")")
	row("issuer", r.Issuer)
	row("tenant", r.TenantID)
	if r.Kind == entra.KindAccessToken {
		mode := "delegated (a user signed in)"
		if r.AppOnly {
			mode = "app-only"
		}
		row("app", strings.TrimSpace(r.AppID+" "+mode))
	}
	row("user", r.Username)
	row("object id", r.ObjectID)
	row("scopes", strings.Join(r.Scopes, " "))
	row("roles", strings.Join(r.Roles, " "))
	if !r.ExpiresAt.IsZero() {
		left := "expired " + human(-r.Remaining) + " ago"
		if r.Remaining > 0 {
			left = human(r.Remaining) + " left"
		}
		row("expires", r.ExpiresAt.Format(time.RFC3339)+" ("+left+")")
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "\nno known mistakes found")
		return
	}
	fmt.Fprintln(w, "\nfindings:")
	for _, f := range r.Findings {
		c := p.cyan
		switch f.Severity {
		case entra.SeverityError:
			c = p.red
		case entra.SeverityWarning:
			c = p.yellow
		}
		fmt.Fprintf(w, "  %s%-7s%s %s%s%s: %s\n", c, strings.ToUpper(string(f.Severity)), p.reset, p.bold, f.Code, p.reset, f.Message)
		fmt.Fprintf(w, "          fix: %s\n", f.Fix)
	}
}

// human formats a duration: days beyond two days, else to the second.
func human(d time.Duration) string {
	if d >= 48*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return d.Round(time.Second).String()
}

// verifyReport is InspectVerified with the cloud and TLS trust of the
// flags.
func verifyReport(ctx context.Context, raw string, opts *entra.InspectOptions, f inspectFlags) (*entra.Report, error) {
	hc, err := httpClient(f.caFile)
	if err != nil {
		return nil, err
	}
	if f.authorityHost != "" {
		if opts.Cloud, err = entra.Public.WithAuthorityHost(f.authorityHost); err != nil {
			return nil, err
		}
	}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return entra.InspectVerified(vctx, raw, hc, opts)
}

// printable returns a copy of r whose text, taken from an unverified
// token, cannot drive the terminal: control characters (C0, C1, DEL:
// escape sequences that write the clipboard, clear the screen, retitle
// the window) become "?".
func printable(r *entra.Report) *entra.Report {
	c := *r
	list := func(in []string) []string {
		out := make([]string, len(in))
		for i, v := range in {
			out[i] = safeText(v)
		}
		return out
	}
	c.Audience, c.Scopes, c.Roles = list(r.Audience), list(r.Scopes), list(r.Roles)
	c.Issuer, c.TenantID, c.AppID, c.Username, c.ObjectID = safeText(r.Issuer), safeText(r.TenantID), safeText(r.AppID), safeText(r.Username), safeText(r.ObjectID)
	c.Findings = make([]entra.Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.Message, f.Fix = safeText(f.Message), safeText(f.Fix)
		c.Findings[i] = f
	}
	return &c
}

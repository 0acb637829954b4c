package entra

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want []string // substrings, in order
	}{
		{"full", &Error{Op: "token", StatusCode: 401, Code: "invalid_client", AADSTS: []int{7000215},
			Description: "AADSTS7000215: Invalid client secret provided.", Hint: "use the value"},
			[]string{"entra: token: invalid_client (AADSTS7000215): Invalid client secret provided.", " — hint: use the value"}},
		{"other code in description", &Error{Op: "token", AADSTS: []int{1}, Description: "AADSTS2: x"},
			[]string{"entra: token: (AADSTS1): AADSTS2: x"}},
		{"status only", &Error{Op: "token", StatusCode: 503}, []string{"entra: token: HTTP 503"}},
		{"cause text", &Error{Op: "scope", Code: "invalid_scope", Err: ErrNoScopes}, []string{"entra: scope: invalid_scope: no scopes"}},
		{"empty", &Error{}, []string{"entra: failed"}},
		{"codes only", &Error{AADSTS: []int{1, 2}}, []string{"entra: (AADSTS1, AADSTS2)"}},
		{"retry after", &Error{Op: "token", StatusCode: 429, Code: "throttled", Description: "Entra answered HTTP 429", RetryAfter: 118 * time.Second, Hint: "wait"},
			[]string{"entra: token: throttled: Entra answered HTTP 429 (retry in 1m58s) — hint: wait"}},
		{"retry after, sub-second", &Error{Op: "token", Code: "throttled", RetryAfter: 250 * time.Millisecond}, []string{"throttled (retry in 250ms)"}},
		{"many codes", &Error{AADSTS: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, []string{"AADSTS8, …)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.err.Error()
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("got %q, want it to contain %q", got, w)
				}
				rest = rest[i+len(w):]
			}
			if !strings.HasPrefix(got, "entra: ") || strings.ContainsAny(got, "\r\n") {
				t.Errorf("got %q, want one line starting with \"entra: \"", got)
			}
		})
	}
}

func TestErrorOneLineAndCapped(t *testing.T) {
	e := &Error{Op: "token", Description: strings.Repeat("é", 1000) + "\r\nTrace ID: x", Hint: "a\nb"}
	got := e.Error()
	if strings.ContainsAny(got, "\r\n") {
		t.Errorf("got %q, want one line", got)
	}
	if len(got) > 1200 {
		t.Errorf("got %d bytes, want a capped message", len(got))
	}
	if !strings.HasSuffix(strings.SplitN(got, " — hint", 2)[0], "…") {
		t.Errorf("got %q, want the description cut with an ellipsis", got)
	}
}

func TestErrorUnwrapAndHasCode(t *testing.T) {
	e := &Error{Op: "token", AADSTS: []int{70011, 28000}, Err: context.Canceled}
	wrapped := fmt.Errorf("outer: %w", e)
	if !errors.Is(wrapped, context.Canceled) {
		t.Errorf("errors.Is(context.Canceled) = false, want true")
	}
	var got *Error
	if !errors.As(wrapped, &got) || got != e {
		t.Fatalf("errors.As failed")
	}
	for _, c := range []struct {
		code int
		want bool
	}{{70011, true}, {28000, true}, {7000215, false}} {
		if g := e.HasCode(c.code); g != c.want {
			t.Errorf("HasCode(%d) = %v, want %v", c.code, g, c.want)
		}
	}
	var nilErr *Error
	if nilErr.HasCode(1) || nilErr.Unwrap() != nil {
		t.Errorf("nil *Error: want no codes and no cause")
	}
}

// %#v shows the fields and only the type of the cause (defect 21).
func TestErrorGoString(t *testing.T) {
	cause := &url.Error{Op: "Post", URL: "https://h/t", Err: errors.New("raw server text sEcReT")}
	e := &Error{Op: "token", StatusCode: 503, Code: "server_error", AADSTS: []int{1}, Description: "d", RetryAfter: time.Second, Err: cause}
	got := fmt.Sprintf("%#v", e)
	want := `&entra.Error{Op:"token", StatusCode:503, Code:"server_error", AADSTS:[]int{1}, Description:"d", TraceID:"", ` +
		`CorrelationID:"", Timestamp:"", Hint:"", RetryAfter:1000000000, Err:*url.Error}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := fmt.Sprintf("%#v", struct{ E *Error }{e}); strings.Contains(got, "sEcReT") {
		t.Errorf("nested %%#v shows the cause's text: %s", got)
	}
	if got := fmt.Sprintf("%#v", (*Error)(nil)); got != "(*entra.Error)(nil)" {
		t.Errorf("nil: got %s", got)
	}
}

func TestScopeError(t *testing.T) {
	e := scopeError(ErrMultipleResources, []int{28000}, "scopes %q and %q name two resources", "a/.default", "b/.default")
	if e.Op != "scope" || e.Code != "invalid_scope" {
		t.Errorf("got Op %q Code %q, want scope/invalid_scope", e.Op, e.Code)
	}
	if !errors.Is(e, ErrMultipleResources) {
		t.Errorf("errors.Is(ErrMultipleResources) = false")
	}
	if !e.HasCode(28000) || e.Hint == "" {
		t.Errorf("got codes %v hint %q, want 28000 and a hint", e.AADSTS, e.Hint)
	}
	if !strings.Contains(e.Error(), "separately") {
		t.Errorf("got %q, want the 28000 hint", e.Error())
	}
}

func TestHints(t *testing.T) {
	// Each seed pitfall: the hint must name the fix.
	tests := []struct {
		code int
		want []string
	}{
		{7000215, []string{"Value", "Secret ID"}},
		{7000222, []string{"expired", "new client secret"}},
		{700016, []string{"client", "tenant"}},
		{90002, []string{"tenant", "cloud", "sovereign"}},
		{70011, []string{"/.default", "exposes"}},
		{28000, []string{"each resource separately"}},
		{1002012, []string{"/.default", "User.Read"}},
		{65001, []string{"consent", "admin"}},
		{50013, []string{"aud", "middle-tier", "Graph", "id_token"}},
		{500133, []string{"expired"}},
		{7000218, []string{"secret", "assertion"}},
		{700024, []string{"time", "clock"}},
		{700027, []string{"signature", "certificate"}},
		{700082, []string{"sign in again"}},
		{70008, []string{"sign in again"}},
		{50173, []string{"sign in again"}},
		{54005, []string{"already redeemed"}},
		{501481, []string{"verifier"}},
		{90055, []string{"throttl", "Retry-After"}},
		{50196, []string{"loop", "cache"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			got := hintFor([]int{tt.code})
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to mention %q", got, w)
				}
			}
		})
	}
	if got := hintFor([]int{1, 28000}); got != hint(28000) {
		t.Errorf("got %q, want the first known code's hint", got)
	}
	if got := hintFor([]int{1}); got != "" {
		t.Errorf("got %q, want no hint for an unknown code", got)
	}
}

func TestFirstLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AADSTS7000215: Invalid client secret.\r\nTrace ID: 1\r\nCorrelation ID: 2", "AADSTS7000215: Invalid client secret."},
		{"  one\nTwo", "one"},
		{"tab\there", "tab here"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := firstLine(tt.in, 300); got != tt.want {
			t.Errorf("firstLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := firstLine(strings.Repeat("x", 500), 300); len(got) != 300+len("…") {
		t.Errorf("got %d bytes, want 300 + ellipsis", len(got))
	}
}

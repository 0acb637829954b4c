package main

import (
	"strings"
	"testing"
)

// TestRun signs in through the loopback listener against the embedded
// emulator and calls its Graph.
func TestRun(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "") // embedded mode whatever the environment says
	var out strings.Builder
	if code := run(&out); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, out.String())
	}
	for _, want := range []string{"signed in: alice@", "Graph /v1.0/me: Alice"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

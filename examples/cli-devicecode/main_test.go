package main

import (
	"strings"
	"testing"
)

// TestRun signs in against the embedded emulator of two clouds and calls
// each cloud's Graph.
func TestRun(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "") // embedded mode whatever the environment says
	for _, cloud := range []string{"public", "china"} {
		t.Run(cloud, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			if code := run(cloud, &out); code != 0 {
				t.Fatalf("exit code %d:\n%s", code, out.String())
			}
			for _, want := range []string{"enter the code", "signed in:", "Graph /v1.0/me:", "without another sign-in"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

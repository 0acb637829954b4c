package main

import "testing"

// TestRun runs the example end to end against its embedded emulator.
func TestRun(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "") // embedded mode whatever the environment says
	tests := []struct {
		name    string
		pitfall bool
		want    int
	}{
		{"consented app gets the role", false, 0},
		{"app without admin consent is refused", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.pitfall); got != tt.want {
				t.Errorf("exit code: got %d, want %d", got, tt.want)
			}
		})
	}
}

package entra

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestEnvIsRedactedInLogsAndJSON is a regression test (found by review). Before the fix:
// Env redacts its secret in String and GoString only. Logged
// through slog's JSON handler (the usual production handler), it is
// marshalled field by field: AZURE_CLIENT_SECRET and the certificate
// password land in the log.
func TestEnvIsRedactedInLogsAndJSON(t *testing.T) {
	env := ReadEnv(func(k string) (string, bool) {
		switch k {
		case EnvClientSecret:
			return "s3cr3t~Value.FromThePortal", true
		case EnvCertificatePassword:
			return "pfx-password", true
		}
		return "", false
	})
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "env", env)
	if strings.Contains(buf.String(), "s3cr3t") || strings.Contains(buf.String(), "pfx-password") {
		t.Errorf("log line carries the secret: %s", buf.String())
	}
}

package entra

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// restoreBody returns ce's response with its body restored when MSAL
// consumed it: its device-code loop reads an error body (looking for
// authorization_pending) before returning the error, whose message then
// holds the body after its first line. The message is parsed like the
// body, never shown.
func restoreBody(ce msalerrors.CallErr) *http.Response {
	resp := ce.Resp
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	}
	if len(bytes.TrimSpace(body)) == 0 && ce.Err != nil {
		if msg := ce.Err.Error(); strings.HasPrefix(msg, "http call(") {
			if i := strings.Index(msg, ":\n"); i >= 0 {
				body = []byte(msg[i+2:])
				if len(body) > maxErrorBody {
					body = body[:maxErrorBody]
				}
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

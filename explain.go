package entra

import (
	"io"
	"log/slog"
	"net/http"
)

// explainedBody is the body of a 401 or 403 answer to a request entra's
// transport sent a token with: it carries the Inspect findings of that
// token (never the token).
type explainedBody struct {
	io.ReadCloser
	findings []Finding
}

// Explain returns what Inspect finds wrong with the token entra's
// transport (Credential.Client, UserCredential.Client, WebApp.Client,
// Transport) sent with the request that got resp, when the resource
// refused it (401 or 403): e.g. a token of another cloud, an expired one,
// an app-only token without roles, a Graph token sent to a custom API. nil
// for other answers, or when nothing is found. The findings are logged at
// Debug too. Safe for concurrent use.
func Explain(resp *http.Response) []Finding {
	if resp == nil {
		return nil
	}
	if b, ok := resp.Body.(*explainedBody); ok {
		return b.findings
	}
	return nil
}

// explain attaches to a 401 or 403 answer the findings of tok, the token
// sent with req, and logs them at Debug.
func explain(resp *http.Response, req *http.Request, tok string, cloud Cloud, logger *slog.Logger) {
	if resp == nil || resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden || resp.Body == nil {
		return
	}
	findings := InspectFindings(tok, &InspectOptions{TargetURL: req.URL.String(), Cloud: cloud})
	if len(findings) == 0 {
		return
	}
	if logger != nil {
		attrs := []slog.Attr{slog.String("host", req.URL.Host), slog.Int("status", resp.StatusCode)}
		for _, f := range findings {
			attrs = append(attrs, slog.String(string(f.Code), f.Message+" — fix: "+f.Fix))
		}
		logger.LogAttrs(req.Context(), slog.LevelDebug, "entra: the resource refused the token; what the token shows", attrs...)
	}
	resp.Body = &explainedBody{ReadCloser: resp.Body, findings: findings}
}

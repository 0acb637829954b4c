package entra

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// claimsOf returns the claims challenge in Entra's error answer carried by
// err (interaction_required for MFA or Conditional Access sends one), or
// "". It leaves the answer readable for fromFlowError.
func claimsOf(err error) string {
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) || ce.Resp == nil {
		return ""
	}
	resp := restoreBody(ce)
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var v struct {
		Claims string `json:"claims"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return validClaims(v.Claims)
}

// validClaims returns c when it is a claims request entra may pass on: a
// JSON object of bounded size; else "".
func validClaims(c string) string {
	if c == "" || len(c) > maxClaims || !json.Valid([]byte(c)) || c[0] != '{' {
		return ""
	}
	return c
}

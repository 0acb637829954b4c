package jwks

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Size limits checked before anything is decoded.
const (
	// MaxTokenBytes bounds the compact token Verify accepts.
	MaxTokenBytes = 16 << 10
	// MaxHeaderBytes bounds the token's encoded header segment.
	MaxHeaderBytes = 2 << 10
)

// Header holds the JOSE header facts of a token.
type Header struct {
	Alg   string // "RS256" for every token Verify accepts
	KeyID string // kid
	Type  string // typ, e.g. "JWT"
	// Nonce is set on Microsoft Graph access tokens: their signature covers
	// a hash of it, so they never verify for anyone but Graph.
	Nonce string
	X5T   string // x5t (v1 tokens carry it, equal to kid)
}

// rawHeader is the JSON form of Header.
type rawHeader struct {
	Alg   string          `json:"alg"`
	Kid   string          `json:"kid"`
	Typ   string          `json:"typ"`
	Nonce string          `json:"nonce"`
	X5T   string          `json:"x5t"`
	Crit  json.RawMessage `json:"crit"`
	B64   json.RawMessage `json:"b64"`
}

// Parts is an unverified token split into its decoded header and payload.
type Parts struct {
	Header  Header
	Payload []byte // decoded JSON object (not verified)
}

// Parse splits and decodes raw without verifying anything: sizes, three
// base64url segments, a JSON object header and payload. Callers may use
// the result to explain a rejection (a Graph token, a wrong audience), never
// to accept a token. Errors wrap ErrMalformed. Safe for concurrent use.
func Parse(raw string) (*Parts, error) {
	if len(raw) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenBytes)
	}
	h, rest, ok := strings.Cut(raw, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(sig, ".") {
		return nil, fmt.Errorf("%w: not three dot-separated parts (a JWE or an opaque token is not accepted)", ErrMalformed)
	}
	if h == "" || p == "" || sig == "" {
		return nil, fmt.Errorf("%w: empty header, payload or signature", ErrMalformed)
	}
	if len(h) > MaxHeaderBytes {
		return nil, fmt.Errorf("%w: header longer than %d bytes", ErrMalformed, MaxHeaderBytes)
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	var rh rawHeader
	if err := decodeObject(hb, &rh); err != nil {
		return nil, fmt.Errorf("%w: header is not a JSON object of strings", ErrMalformed)
	}
	if len(rh.Crit) > 0 || len(rh.B64) > 0 {
		return nil, fmt.Errorf("%w: header has crit or b64 parameters", ErrMalformed)
	}
	pb, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	if !isObject(pb) {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	if _, err := base64.RawURLEncoding.DecodeString(sig); err != nil {
		return nil, fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	return &Parts{
		Header:  Header{Alg: rh.Alg, KeyID: rh.Kid, Type: rh.Typ, Nonce: rh.Nonce, X5T: rh.X5T},
		Payload: pb,
	}, nil
}

// decodeObject decodes one JSON object into v, refusing trailing data.
func decodeObject(b []byte, v any) error {
	if !isObject(b) {
		return fmt.Errorf("not a JSON object")
	}
	return json.Unmarshal(b, v)
}

// isObject reports whether b is one valid JSON object.
func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && json.Valid(b)
}

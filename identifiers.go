package entra

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// msaOIDPrefix starts the oid of every personal Microsoft account.
const msaOIDPrefix = "00000000-0000-0000-"

// GraphIDFromOID returns the Microsoft Graph user id of a personal
// Microsoft account from its token's oid: Graph's /me answers
// "0123456789abcdef" for oid "00000000-0000-0000-0123-456789abcdef" (the
// oid is the 16-hex id formatted as a GUID). ok is false when oid is not
// of that form (a work or school account, whose Graph id is the oid
// itself).
//
// Microsoft documents both identifiers as opaque: this mapping is what
// Graph does today for personal accounts, not a contract. Store oid (and
// tid) as the key of a user; use this to match a Graph id you already
// have. Safe for concurrent use.
func GraphIDFromOID(oid string) (string, bool) {
	if !isGUID(oid) || !strings.HasPrefix(oid, msaOIDPrefix) {
		return "", false
	}
	return strings.ToLower(oid[19:23] + oid[24:]), true
}

// OIDFromGraphID is the reverse of GraphIDFromOID: the oid a personal
// account's tokens carry for its 16-hex Graph id. ok is false when id is
// not 16 hexadecimal digits. Safe for concurrent use.
func OIDFromGraphID(id string) (string, bool) {
	if len(id) != 16 {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if !isHex(id[i]) {
			return "", false
		}
	}
	id = strings.ToLower(id)
	return msaOIDPrefix + id[:4] + "-" + id[4:], true
}

// SameUser reports whether a Microsoft Graph user id and a token's oid
// name the same user: equal GUIDs (case-insensitively) for work and
// school accounts, or a personal account's 16-hex Graph id and its
// "00000000-0000-0000-XXXX-XXXXXXXXXXXX" oid. Both are opaque to
// Microsoft (see GraphIDFromOID); an empty id never matches. Safe for
// concurrent use.
func SameUser(graphID, oid string) bool {
	if graphID == "" || oid == "" {
		return false
	}
	if strings.EqualFold(graphID, oid) {
		return true
	}
	g, ok := GraphIDFromOID(oid)
	return ok && strings.EqualFold(g, graphID)
}

// ClientInfo is MSAL's client_info, returned beside the tokens when the
// request asks for it: UID is the user's object ID in their home tenant,
// UTID that tenant. MSAL keys accounts by "<uid>.<utid>", the home
// account ID.
type ClientInfo struct {
	UID  string `json:"uid"`
	UTID string `json:"utid"`
}

// HomeAccountID returns "<uid>.<utid>".
func (c ClientInfo) HomeAccountID() string { return c.UID + "." + c.UTID }

// DecodeClientInfo decodes a client_info value (base64url JSON, padded or
// not). Errors are *Error values wrapping ErrInvalidResponse; they never
// contain the input. Safe for concurrent use.
func DecodeClientInfo(s string) (ClientInfo, error) {
	var c ClientInfo
	if err := decodeInfo(s, &c, "client_info"); err != nil {
		return ClientInfo{}, err
	}
	return c, nil
}

// ProfileInfo is Azure AD B2C's profile_info, returned beside the tokens
// of the authorization code grant: client information for MSAL's account
// cache, base64url JSON whose fields are often null. It is not a token and
// proves nothing; read the user's claims from the id_token.
type ProfileInfo struct {
	Version           string `json:"ver"`
	TenantID          string `json:"tid"`
	Subject           string `json:"sub"`
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	IdentityProvider  string `json:"idp"`
}

// DecodeProfileInfo decodes a B2C profile_info value; null fields are
// empty. Errors are *Error values wrapping ErrInvalidResponse. Safe for
// concurrent use.
func DecodeProfileInfo(s string) (ProfileInfo, error) {
	var p ProfileInfo
	if err := decodeInfo(s, &p, "profile_info"); err != nil {
		return ProfileInfo{}, err
	}
	return p, nil
}

// decodeInfo decodes base64url (or base64) JSON of at most 16 KiB into v.
func decodeInfo(s string, v any, what string) error {
	bad := func(desc string) error {
		return &Error{Op: "inspect", Code: "invalid_" + what, Description: what + " " + desc,
			Hint: "pass the " + what + " value of the token response as it came", Err: ErrInvalidResponse}
	}
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 16<<10 {
		return bad("is empty or too large")
	}
	s = strings.TrimRight(s, "=")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return bad("is not base64url")
		}
	}
	if !shallowJSON(b, maxJSONDepth) || len(b) == 0 || b[0] != '{' {
		return bad("is not a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return bad("is not a JSON object of strings")
	}
	return nil
}

package entrahttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode"
	"unicode/utf8"
)

// MSAL Go v1.10.1 decodes a token response with encoding/json into
// accesstokens.TokenResponse (through its UnmarshalJSON, which unmarshals
// into an aux struct holding expires_in, expires_on and the embedded
// response). encoding/json binds a key to a field by exact name, else by
// a case-insensitive match, and the last key bound to a field wins. So
// {"expires_in":3599,"EXPIRES_IN":99999999999999} reaches MSAL as the
// second value. We therefore bind keys exactly as encoding/json does and
// refuse a body in which two keys bind to one field.

// msalField returns the canonical name of the TokenResponse field that a
// key folded by foldKey binds to, or "" when it binds to none. The list is
// every field encoding/json can fill in MSAL's aux struct: the tagged ones
// plus two untagged Go fields (DeclinedScopes, AdditionalFields) that a
// key of the same name (any case) would fill.
func msalField(folded string) string {
	switch folded {
	case "EXPIRES_IN":
		return "expires_in"
	case "EXPIRES_ON":
		return "expires_on"
	case "ACCESS_TOKEN":
		return "access_token"
	case "REFRESH_TOKEN":
		return "refresh_token"
	case "TOKEN_TYPE":
		return "token_type"
	case "FOCI":
		return "foci"
	case "ID_TOKEN":
		return "id_token"
	case "CLIENT_INFO":
		return "client_info"
	case "REFRESH_IN":
		return "refresh_in"
	case "EXT_EXPIRES_IN":
		return "ext_expires_in"
	case "SCOPE":
		return "scope"
	case "DECLINEDSCOPES":
		return "DeclinedScopes"
	case "ADDITIONALFIELDS":
		return "AdditionalFields"
	case "ERROR":
		return "error"
	case "SUBERROR":
		return "suberror"
	case "ERROR_DESCRIPTION":
		return "error_description"
	case "ERROR_CODES":
		return "error_codes"
	case "CORRELATION_ID":
		return "correlation_id"
	case "CLAIMS":
		return "claims"
	}
	return ""
}

// maxFieldKey bounds the byte length of a key that can bind to a field:
// the longest name has 17 runes, each at most 3 bytes once folded (the
// Kelvin sign K is 3 bytes).
const maxFieldKey = 17 * 3

// foldKey folds a JSON object key as encoding/json does for field
// matching (encoding/json/fold.go, Go 1.21 and later): ASCII letters to
// upper case, every other rune to the smallest rune of its simple case
// folding orbit. So "ſ" (U+017F) folds to "S" and "K" (U+212A, Kelvin)
// to "K", and "expireſ_in" binds to expires_in.
func foldKey(key string) string {
	var arr [maxFieldKey]byte
	b := arr[:0]
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(key[i:])
		b = utf8.AppendRune(b, foldRune(r))
		i += n
	}
	return string(b)
}

// foldRune returns the smallest rune of r's simple case folding orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// errDuplicate reports two keys bound to one MSAL field.
var errDuplicate = errors.New("duplicate field")

// msalFields reads body as one JSON object and returns, for every MSAL
// field a key binds to, that key's raw value. dup names a field bound by
// more than one key (err is errDuplicate then); odd names a key that binds
// to an untagged Go field. Keys binding to no field are skipped.
func msalFields(body []byte) (fields map[string]json.RawMessage, dup string, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, "", err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, "", errors.New("not an object")
	}
	fields = make(map[string]json.RawMessage, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "", err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, "", err
		}
		if len(key) > maxFieldKey {
			continue
		}
		name := msalField(foldKey(key))
		if name == "" {
			continue
		}
		if _, seen := fields[name]; seen {
			return nil, name, errDuplicate
		}
		fields[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, "", err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "", errors.New("trailing data")
	}
	return fields, "", nil
}

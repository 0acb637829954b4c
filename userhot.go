package entra

import (
	"strings"
	"unsafe"
)

// maxUserHotKey bounds the key the user hot path builds on the stack: a
// home account ID (73 bytes) and a few scopes fit; longer keys take the
// validating path.
const maxUserHotKey = 256

// lookupHot returns the hot cell of the entry for (account, scopes) when
// scopes are given in their cache key form and order (trimmed, the
// scheme and host of a URI scope or a GUID lower-cased, sorted
// case-insensitively, no duplicates, no OpenID Connect scope: e.g.
// "User.Read", or "Calendars.Read", "Mail.Read"), or nil: the caller then
// takes the validating path, which finds the same entry. The key is built
// in a stack buffer that the lookup does not keep, so nothing is
// allocated.
//
// A hit is always the entry the validating path would find: every key
// is the account, a 0 byte, then the keys of valid scopes (no space, no
// control character) joined by spaces, so scopes without a space or a 0
// byte match a key only if they are exactly that key's scopes, which
// normalize to themselves.
func (u *userTokens) lookupHot(account string, scopes []string) *hotCell {
	if account == "" || len(scopes) == 0 || len(account) >= maxUserHotKey {
		return nil
	}
	var buf [maxUserHotKey]byte
	n := copy(buf[:], account)
	buf[n] = 0
	n++
	for i, s := range scopes {
		if i > 0 {
			if n == len(buf) {
				return nil
			}
			buf[n] = ' '
			n++
		}
		if s == "" || len(s) > len(buf)-n || strings.IndexByte(s, ' ') >= 0 || strings.IndexByte(s, 0) >= 0 {
			return nil
		}
		n += copy(buf[n:], s)
	}
	return u.cache.lookupHot(unsafe.String(&buf[0], n))
}

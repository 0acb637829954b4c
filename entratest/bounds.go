package entratest

import (
	"net/http"
	"sort"
	"time"
)

// Limits on what one request may cost the emulator. A request log entry
// keeps at most maxLogPath bytes of the path and maxLogKeys form keys (the
// logged parameters first, then the others in key order), each key cut to
// maxLogKey bytes and each value to maxLogValue bytes, with at most
// maxLogValues values per key: an entry stays under a few KiB however large
// the request. Request.Truncated tells when anything was cut.
const (
	maxLogPath   = 256
	maxLogKeys   = 32
	maxLogKey    = 64
	maxLogValue  = 256
	maxLogValues = 4
)

// defaultBodyTimeout bounds how long a client may take to send a request
// body, as ReadHeaderTimeout bounds the headers.
const defaultBodyTimeout = 10 * time.Second

// bodyTimeout returns the body read bound (tests shorten it).
func (s *Server) bodyTimeout() time.Duration {
	if d := time.Duration(s.bodyTimeoutNS.Load()); d > 0 {
		return d
	}
	return defaultBodyTimeout
}

// setBodyDeadline bounds the time left to read r's body and returns a
// function that lifts the bound once the body is read, so that a handler
// that takes long to answer (a Delay fault) is not cut off. Writers that do
// not support deadlines (httptest.ResponseRecorder) are left alone.
func (s *Server) setBodyDeadline(w http.ResponseWriter) (lift func()) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(s.bodyTimeout())); err != nil {
		return func() {}
	}
	return func() { _ = rc.SetReadDeadline(time.Time{}) }
}

// boundedPath returns the path as logged: at most maxLogPath bytes.
func boundedPath(p string) (string, bool) {
	if len(p) <= maxLogPath {
		return p, false
	}
	return cutUTF8(p, maxLogPath) + "...", true
}

// boundForm bounds a (redacted) form for the log.
func boundForm(v map[string][]string) (map[string][]string, bool) {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := loggedParam(keys[i]), loggedParam(keys[j])
		if li != lj {
			return li
		}
		return keys[i] < keys[j]
	})
	truncated := false
	if len(keys) > maxLogKeys {
		keys, truncated = keys[:maxLogKeys], true
	}
	out := make(map[string][]string, len(keys))
	for _, k := range keys {
		vals := v[k]
		if len(vals) > maxLogValues {
			vals, truncated = vals[:maxLogValues], true
		}
		bk := k
		if len(bk) > maxLogKey {
			bk, truncated = cutUTF8(bk, maxLogKey)+"...", true
		}
		bv := make([]string, len(vals))
		for i, val := range vals {
			if len(val) > maxLogValue {
				val, truncated = cutUTF8(val, maxLogValue)+"...", true
			}
			bv[i] = val
		}
		out[bk] = append(out[bk], bv...)
	}
	return out, truncated
}

// cutUTF8 returns at most n bytes of s without splitting a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

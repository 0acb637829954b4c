package entrahttp

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Device-code polling (RFC 8628 §3.4, §3.5). MSAL Go's polling loop
// ignores the server's interval (it polls after 50 ms, then triples the
// wait up to 5 s) and treats slow_down like authorization_pending; Entra
// ends clients that poll too fast (AADSTS50196). Every poll goes through
// this Client, so the Client paces them: a device code is polled no sooner
// than interval after it was issued or last polled, and every slow_down
// adds 5 seconds to its interval. The wait honours the request's ctx.
const (
	defaultPollInterval = 5 * time.Second // RFC 8628: when the server sends none
	slowDownStep        = 5 * time.Second
	maxPolledCodes      = 1024 // device codes tracked at once
)

// devicePacer remembers, per device code (by hash: the code itself is
// never kept), its interval and when it may next be polled. Safe for
// concurrent use; the lock is never held across I/O or a wait.
type devicePacer struct {
	mu    sync.Mutex
	codes map[[32]byte]*pollState
}

type pollState struct {
	interval time.Duration
	next     time.Time // no poll before this
	expires  time.Time // the code's expiry: the state is dropped after it
}

// deviceGrants are the grant_type values of a device-code poll.
func isDeviceGrant(g string) bool {
	return g == "urn:ietf:params:oauth:grant-type:device_code" || g == "device_code"
}

// pollWait returns how long a poll of the device code in form must wait
// at now, and the code's key; ok is false when form is no device-code
// poll.
func (p *devicePacer) pollWait(form url.Values, now time.Time) (wait time.Duration, key [32]byte, ok bool) {
	code := form.Get("device_code")
	if !isDeviceGrant(form.Get("grant_type")) || code == "" {
		return 0, key, false
	}
	key = sha256.Sum256([]byte(code))
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.codes[key]
	if st == nil { // issued through another client: start from the default
		st = p.addLocked(key, defaultPollInterval, now, now.Add(15*time.Minute))
		st.next = now
	}
	return max(st.next.Sub(now), 0), key, true
}

// issued records a device code from a /devicecode answer: its first poll
// comes interval after now.
func (p *devicePacer) issued(body []byte, now time.Time) {
	var dc struct {
		DeviceCode string          `json:"device_code"`
		Interval   json.RawMessage `json:"interval"`
		ExpiresIn  json.RawMessage `json:"expires_in"`
	}
	if json.Unmarshal(body, &dc) != nil || dc.DeviceCode == "" {
		return
	}
	interval := defaultPollInterval
	if n, ok := parseInt(dc.Interval); ok && n > 0 && n <= 600 {
		interval = time.Duration(n) * time.Second
	}
	life := 15 * time.Minute
	if n, ok := parseInt(dc.ExpiresIn); ok && n > 0 && n <= 24*3600 {
		life = time.Duration(n) * time.Second
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addLocked(sha256.Sum256([]byte(dc.DeviceCode)), interval, now, now.Add(life))
}

// addLocked tracks a code, pruning expired ones and, past maxPolledCodes,
// the one that expires first. p.mu held.
func (p *devicePacer) addLocked(key [32]byte, interval time.Duration, now, expires time.Time) *pollState {
	if p.codes == nil {
		p.codes = make(map[[32]byte]*pollState)
	}
	for k, st := range p.codes {
		if !st.expires.After(now) {
			delete(p.codes, k)
		}
	}
	if len(p.codes) >= maxPolledCodes {
		var first [32]byte
		var at time.Time
		for k, st := range p.codes {
			if at.IsZero() || st.expires.Before(at) {
				first, at = k, st.expires
			}
		}
		delete(p.codes, first)
	}
	st := &pollState{interval: interval, next: now.Add(interval), expires: expires}
	p.codes[key] = st
	return st
}

// answered records the answer to a poll sent at now: pending waits one
// interval, slow_down first adds slowDownStep to it; any other answer ends
// the code's polling.
func (p *devicePacer) answered(key [32]byte, status int, body []byte, now time.Time) {
	var e struct {
		Error string `json:"error"`
	}
	if status == http.StatusBadRequest {
		_ = json.Unmarshal(body, &e)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.codes[key]
	if st == nil {
		return
	}
	switch e.Error {
	case "slow_down":
		st.interval += slowDownStep
		st.next = now.Add(st.interval)
	case "authorization_pending":
		st.next = now.Add(st.interval)
	default:
		delete(p.codes, key)
	}
}

// requestForm returns the form of a replayable POST body (at most
// maxFormPeek bytes), or nil.
func requestForm(r *http.Request) url.Values {
	if r.Method != http.MethodPost || r.GetBody == nil {
		return nil
	}
	body, err := r.GetBody()
	if err != nil {
		return nil
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxFormPeek))
	if err != nil {
		return nil
	}
	form, _ := url.ParseQuery(string(b)) // keeps the pairs it could parse
	return form
}

// isDeviceCodeRequest reports whether r asks for a device code.
func isDeviceCodeRequest(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/devicecode")
}

package entra

import (
	"context"
	"sync"
)

// assertionRecord collects the client assertions made for one token
// request (and the error of a failed one), so that the request's error can
// be scrubbed of them and a failing assertion callback reported as such.
// Safe for concurrent use.
type assertionRecord struct {
	mu         sync.Mutex
	assertions []string
	err        error
}

// assertionRecordKey is the ctx key of the *assertionRecord of a fetch.
type assertionRecordKey struct{}

// recordAssertion is flows.Config.OnAssertion: it files each assertion (or
// error) with the fetch's record, found through ctx.
func recordAssertion(ctx context.Context, assertion string, err error) {
	rec, _ := ctx.Value(assertionRecordKey{}).(*assertionRecord)
	if rec == nil {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if err != nil {
		rec.err = err
		return
	}
	if len(rec.assertions) < 8 { // MSAL retries a request at most a few times
		rec.assertions = append(rec.assertions, assertion)
	}
}

// sent returns the assertions made so far.
func (r *assertionRecord) sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.assertions...)
}

// failure returns the error of the assertion callback or signer, if any.
func (r *assertionRecord) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

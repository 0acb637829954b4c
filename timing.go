package entra

import "time"

// Timing of an entry's phases. Every margin is continuous in the token's
// lifetime L (the time from receipt to expiry): no lifetime refreshes back
// to back or is stored as already expired.
const (
	// maxExpirySkew: a token stops being served this long before its
	// expiry (less for tokens living under 5 minutes: L/10), so it is
	// never sent when it is about to lapse on the wire.
	maxExpirySkew = 30 * time.Second
	// maxRefreshMargin: the refresh phase starts at least this long
	// before expiry (less for tokens living under 10 minutes: L/2),
	// whatever Entra's refresh_in says.
	maxRefreshMargin = 5 * time.Minute
	// refreshJitter: the refresh time is moved earlier by up to this
	// fraction of the time until it, so that instances sharing a Store do
	// not all refresh at once.
	refreshJitter = 0.1
)

// Backoff after failures: full jitter in [d/2, d], d doubling from the
// base up to the cap. A background refresh (a valid token is still being
// served) backs off slowly; a blocking fetch (callers have no token) backs
// off from a short base and a lower cap.
const (
	refreshRetryBase  = 10 * time.Second
	refreshRetryMax   = 5 * time.Minute
	blockingRetryBase = time.Second
	blockingRetryMax  = time.Minute
	// maxServerDelay caps a Retry-After that entra honours across calls.
	maxServerDelay = 10 * time.Minute
)

// tokenTimes are the times an entry derives from a token received at now.
type tokenTimes struct {
	refreshAt   time.Time // background refresh becomes due
	usableUntil time.Time // the token is no longer served
}

// timesFor returns the refresh and usable-until times of a token received
// at now that expires at expiresOn, with Entra's refresh_on (zero: not
// given). jitter in [0, 1) moves the refresh time earlier by up to
// refreshJitter of the time until it. All results are wall-clock times.
//
//	usableUntil = expiresOn - min(30s, L/10)
//	refreshAt   = now + min(refresh_in or L/2, L - min(5m, L/2)) (then jittered)
func timesFor(now, expiresOn, refreshOn time.Time, jitter float64) tokenTimes {
	now, expiresOn, refreshOn = now.Round(0), expiresOn.Round(0), refreshOn.Round(0)
	life := expiresOn.Sub(now)
	if life <= 0 {
		return tokenTimes{refreshAt: now, usableUntil: now}
	}
	usable := expiresOn.Add(-min(maxExpirySkew, life/10))
	in := life / 2
	if !refreshOn.IsZero() {
		in = max(refreshOn.Sub(now), 0)
	}
	in = min(in, life-min(maxRefreshMargin, life/2))
	in -= time.Duration(float64(in) * refreshJitter * jitter)
	return tokenTimes{refreshAt: now.Add(in), usableUntil: usable}
}

// backoff returns the wait before the next attempt after the failures-th
// consecutive failure: d/2 + jitter·d/2 (jitter in [0, 1)) with
// d = base·2^(failures-1) capped at ceiling.
func backoff(failures int, base, ceiling time.Duration, jitter float64) time.Duration {
	d := base << min(max(failures-1, 0), 20)
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	return d/2 + time.Duration(float64(d/2)*jitter)
}

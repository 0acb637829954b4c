package entratest

import (
	mrand "math/rand/v2"
	"time"
)

// Options configures a Server. The zero value (or a nil *Options) gives a
// public-cloud emulator on 127.0.0.1 with Entra's token lifetimes. NewServer
// copies the Options; changing them afterwards has no effect.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Cloud selects the issuer hosts and Graph audience; default CloudPublic.
	Cloud Cloud
	// TokenLifetime fixes the lifetime of every access token. Zero means
	// Entra's defaults: app-only tokens live 1h, user tokens (authorization
	// code, device code, refresh token, on-behalf-of) a random 60 to 90
	// minutes each, as Entra spreads them.
	TokenLifetime time.Duration
	// RefreshIn, if > 0, adds refresh_in (seconds) to every access-token
	// response. Default: TokenLifetime/2 when TokenLifetime is at least 2h,
	// else none.
	RefreshIn time.Duration
	// StrictRefreshTokens makes a redeemed refresh token dead: reuse gives invalid_grant.
	StrictRefreshTokens bool
	// AutoApproveUser, if set, approves device codes at once for this username.
	AutoApproveUser string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *Options) addr() string {
	if o.Addr == "" {
		return "127.0.0.1:0"
	}
	return o.Addr
}

func (o *Options) cloud() Cloud {
	if o.Cloud == "" {
		return CloudPublic
	}
	return o.Cloud
}

// lifetime returns the lifetime of a new access token: TokenLifetime, or
// Entra's default for an app-only or a user token.
func (o *Options) lifetime(user bool) time.Duration {
	switch {
	case o.TokenLifetime > 0:
		return o.TokenLifetime
	case !user:
		return time.Hour
	}
	return userLifetimeMin + time.Duration(mrand.Int64N(int64(userLifetimeSpread/time.Second)+1))*time.Second
}

// Entra's default user-token lifetime: random between 60 and 90 minutes.
const (
	userLifetimeMin    = 60 * time.Minute
	userLifetimeSpread = 30 * time.Minute
)

// refreshIn returns the refresh_in value in whole seconds, 0 for none.
func (o *Options) refreshIn() int64 {
	if o.RefreshIn > 0 {
		return int64((o.RefreshIn + time.Second - 1) / time.Second)
	}
	if lt := o.TokenLifetime; lt >= 2*time.Hour {
		return int64(lt / 2 / time.Second)
	}
	return 0
}

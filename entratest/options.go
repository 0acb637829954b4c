package entratest

import "time"

// Options configures a Server. The zero value (or a nil *Options) gives a
// public-cloud emulator on 127.0.0.1 with one-hour access tokens. NewServer
// copies the Options; changing them afterwards has no effect.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Cloud selects the issuer hosts and Graph audience; default CloudPublic.
	Cloud Cloud
	// TokenLifetime is the access-token lifetime; default 1h.
	TokenLifetime time.Duration
	// RefreshIn, if > 0, adds refresh_in (seconds) to every access-token
	// response. Default: lifetime/2 when the lifetime is at least 2h, else none.
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

func (o *Options) lifetime() time.Duration {
	if o.TokenLifetime <= 0 {
		return time.Hour
	}
	return o.TokenLifetime
}

// refreshIn returns the refresh_in value in whole seconds, 0 for none.
func (o *Options) refreshIn() int64 {
	if o.RefreshIn > 0 {
		return int64((o.RefreshIn + time.Second - 1) / time.Second)
	}
	if lt := o.lifetime(); lt >= 2*time.Hour {
		return int64(lt / 2 / time.Second)
	}
	return 0
}

package bench

import (
	"context"
	"testing"
)

// The loops below call each library directly, one loop per library, so
// that no adapter (closure, interface or result conversion) is measured
// on top of the library's own hit path.

// loopSerial asks g for a token b.N times from one goroutine.
func loopSerial(b *testing.B, g *getter) {
	ctx := context.Background()
	switch g.lib {
	case libEntraTS, libXOAuth2:
		ts := g.ts
		for b.Loop() {
			if _, err := ts.Token(); err != nil {
				b.Fatal(err)
			}
		}
	case libEntraCred:
		cred, scope := g.cred, g.scope
		for b.Loop() {
			if _, err := cred.Token(ctx, scope); err != nil {
				b.Fatal(err)
			}
		}
	case libMSAL:
		app, scopes := g.msal, g.scopes
		for b.Loop() {
			if _, err := app.AcquireTokenByCredential(ctx, scopes); err != nil {
				b.Fatal(err)
			}
		}
	case libAz:
		cred, opts := g.az, g.azOpts
		for b.Loop() {
			if _, err := cred.GetToken(ctx, opts); err != nil {
				b.Fatal(err)
			}
		}
	default:
		b.Fatalf("unknown library %q", g.lib)
	}
}

// loopParallel asks g for a token b.N times from GOMAXPROCS goroutines
// (b.RunParallel).
func loopParallel(b *testing.B, g *getter) {
	ctx := context.Background()
	switch g.lib {
	case libEntraTS, libXOAuth2:
		ts := g.ts
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ts.Token(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	case libEntraCred:
		cred, scope := g.cred, g.scope
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cred.Token(ctx, scope); err != nil {
					b.Error(err)
					return
				}
			}
		})
	case libMSAL:
		app, scopes := g.msal, g.scopes
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := app.AcquireTokenByCredential(ctx, scopes); err != nil {
					b.Error(err)
					return
				}
			}
		})
	case libAz:
		cred, opts := g.az, g.azOpts
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cred.GetToken(ctx, opts); err != nil {
					b.Error(err)
					return
				}
			}
		})
	default:
		b.Fatalf("unknown library %q", g.lib)
	}
}

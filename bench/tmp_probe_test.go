package bench

import "testing"

func BenchmarkProbeCold(b *testing.B) {
	e := theEnv
	b.StopTimer()
	bad := 0
	b.ReportAllocs()
	for i := range b.N {
		g := freshGetter(b, libEntraCred, e.apiScope())
		before := e.grants()
		if err := coldRound(b, g); err != nil {
			b.Fatal(err)
		}
		if n := e.grants() - before; n != 1 {
			bad++
			b.Logf("iteration %d: %d requests", i, n)
		}
	}
	b.Logf("bad %d/%d", bad, b.N)
}

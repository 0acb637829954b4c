package entra

import (
	"runtime"
	"testing"
)

// Memory per cached user-scope entry beyond the access token's own bytes
// (issue 7: at most 512 B), over 10,000 signed-in users with two scope
// sets each: everything the cache holds for an entry counts (the entry,
// the index, the schedule, the key with the 73-byte home account ID, the
// scope list, the token and its times); the accounts' own records (one per
// user, not per entry) are not made.
func TestUserEntryMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 20,000 entries")
	}
	const users = 10_000
	sets := [][]string{{"User.Read"}, {"api://1b2c3d4e-0002-4000-8000-00000000a001/access_as_user"}}
	app, err := NewWebApp(manyUserTenant, "1b2c3d4e-0006-4000-8000-00000000f0b2", "https://app.example.com/auth/callback",
		ClientSecret("s"), &Options{MaxCacheEntries: 2 * users})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ids := manyUserIDs(users)
	before := heapInUse()
	installUsers(t, &app.userTokens, ids, sets, entryTokenLen)
	after := heapInUse()
	if got := app.cache.len(); got != users*len(sets) {
		t.Fatalf("entries: got %d, want %d", got, users*len(sets))
	}
	perEntry := (float64(after) - float64(before)) / float64(users*len(sets))
	beyond := perEntry - entryTokenLen
	t.Logf("%.0f B per user-scope entry, %.0f B beyond the access token's %d B (limit %d B)", perEntry, beyond, entryTokenLen, entryMemLimit)
	if raceEnabled {
		t.Skip("the race detector adds shadow memory to every allocation: the bound holds without -race")
	}
	if beyond > entryMemLimit {
		t.Errorf("memory per user-scope entry beyond the token: %.0f B, want at most %d B", beyond, entryMemLimit)
	}
	runtime.KeepAlive(ids)
}

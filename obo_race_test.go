//go:build race

package entra

// raceEnabled: the race detector slows the million-user test tenfold.
const raceEnabled = true

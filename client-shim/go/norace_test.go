//go:build !race

package tokenwell

const raceEnabled = false

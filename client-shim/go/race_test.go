//go:build race

package tokenwell

// The race detector makes every atomic load ~30 times slower: the rotation
// test reads less under it (the writer still rotates thousands of times).
const raceEnabled = true

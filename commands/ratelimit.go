package commands

import "time"

// A user may send commandBurst commands at once and one more every
// commandRefill after that; a flood gets one warning, then silence, so the
// bot never amplifies it (ratelimit.Warner).
const (
	commandBurst  = 10
	commandRefill = 2 * time.Second
)

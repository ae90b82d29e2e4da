package config

import "time"

// Durations of the listener limits; Validate has checked they parse.
func (l *ListenerLimits) HeaderTimeoutDuration() time.Duration { return mustDuration(l.HeaderTimeout) }
func (l *ListenerLimits) ReadTimeoutDuration() time.Duration   { return mustDuration(l.ReadTimeout) }
func (l *ListenerLimits) WriteTimeoutDuration() time.Duration  { return mustDuration(l.WriteTimeout) }
func (l *ListenerLimits) IdleTimeoutDuration() time.Duration   { return mustDuration(l.IdleTimeout) }

func mustDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

// validate refuses limits that would switch a protection off: every timeout
// must be positive, or one slow client can hold a connection forever.
func (l *ListenerLimits) validate() error {
	durations := []struct{ key, val string }{
		{"header_timeout", l.HeaderTimeout},
		{"read_timeout", l.ReadTimeout},
		{"write_timeout", l.WriteTimeout},
		{"idle_timeout", l.IdleTimeout},
	}
	for _, d := range durations {
		if parsed, err := time.ParseDuration(d.val); err != nil || parsed <= 0 {
			return invalid("appservice.limits."+d.key, "%q must be a positive duration like 10s", d.val)
		}
	}
	if l.MaxConnections < 1 {
		return invalid("appservice.limits.max_connections", "must be at least 1")
	}
	if l.MaxHeaderBytes < 4096 {
		return invalid("appservice.limits.max_header_bytes", "must be at least 4096")
	}
	if l.MaxTransactionBytes < 1<<20 {
		return invalid("appservice.limits.max_transaction_bytes", "must be at least 1048576 (1 MiB)")
	}
	return nil
}

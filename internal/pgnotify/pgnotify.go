// Package pgnotify is the bridge processes' live fan-out over PostgreSQL:
// one process announces with NOTIFY, the others LISTEN. It is how the web
// chat's streams and the panel's feeds hear of what another process saw,
// with no infrastructure beyond the database.
package pgnotify

import (
	"context"
	"time"

	"github.com/lib/pq"
	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
)

// Announce sends payload on channel; on SQLite (one process) it does
// nothing.
func Announce(ctx context.Context, db *dbutil.Database, channel, payload string) error {
	if db.Dialect != dbutil.Postgres {
		return nil
	}
	_, err := db.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload)
	return err
}

// pingEvery notices a dead connection that no notification would reveal.
const pingEvery = 90 * time.Second

// Listen follows channel until ctx ends, calling notify with each payload.
// After the connection was lost and is back, reconnected is called: what
// was announced meanwhile is gone, so the caller refreshes what it holds.
// uri is the PostgreSQL connection string; what names the feed in the log.
func Listen(ctx context.Context, uri, channel, what string, log zerolog.Logger, notify func(payload string), reconnected func()) {
	listener := pq.NewListener(uri, time.Second, time.Minute, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventDisconnected:
			log.Warn().Err(err).Msgf("Lost the %s's notification feed; reconnecting", what)
		case pq.ListenerEventReconnected:
			log.Info().Msgf("The %s's notification feed is back", what)
			reconnected()
		}
	})
	defer listener.Close()
	if err := listener.Listen(channel); err != nil {
		log.Err(err).Msgf("Failed to listen for the other bridge processes' %s notifications", what)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-listener.Notify:
			// nil: the connection was re-established (reconnected ran).
			if n != nil {
				notify(n.Extra)
			}
		case <-time.After(pingEvery):
			go func() { _ = listener.Ping() }()
		}
	}
}

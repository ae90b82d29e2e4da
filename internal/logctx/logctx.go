// Package logctx tags a context's logger with an id once. zerolog appends
// a field every time a child logger or a call adds it, so a delivery that
// tags its log with the customer and a room function it calls that tags
// its own line with the same customer would repeat the key; log tools then
// keep one value at random. Tagging through this package remembers, in the
// context, which keys its logger already has.
package logctx

import (
	"context"

	"github.com/rs/zerolog"
)

type tagsKey struct{}

// With returns ctx with its logger tagged key=value, unless it already is.
func With(ctx context.Context, key, value string) context.Context {
	tags, _ := ctx.Value(tagsKey{}).(map[string]bool)
	if tags[key] {
		return ctx
	}
	next := make(map[string]bool, len(tags)+1)
	for k := range tags {
		next[k] = true
	}
	next[key] = true
	log := zerolog.Ctx(ctx).With().Str(key, value).Logger()
	return context.WithValue(log.WithContext(ctx), tagsKey{}, next)
}

// Logger is ctx's logger tagged key=value, unless it already is.
func Logger(ctx context.Context, key, value string) *zerolog.Logger {
	return zerolog.Ctx(With(ctx, key, value))
}

package logctx

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestTaggedOnce(t *testing.T) {
	var buf bytes.Buffer
	ctx := zerolog.New(&buf).WithContext(context.Background())
	ctx = With(ctx, "customer_id", "cus_1")
	Logger(ctx, "customer_id", "cus_1").Info().Msg("again")
	Logger(ctx, "account", "main").Info().Msg("other key")
	zerolog.Ctx(ctx).Info().Msg("plain")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`{"level":"info","customer_id":"cus_1","message":"again"}`,
		`{"level":"info","customer_id":"cus_1","account":"main","message":"other key"}`,
		`{"level":"info","customer_id":"cus_1","message":"plain"}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines: %s", len(lines), buf.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: %s, want %s", i, lines[i], want[i])
		}
	}
	// A context without the tag gets it: the caller's context is unchanged.
	buf.Reset()
	base := zerolog.New(&buf).WithContext(context.Background())
	_ = With(base, "customer_id", "cus_1")
	zerolog.Ctx(base).Info().Msg("untouched")
	if got := strings.TrimSpace(buf.String()); got != `{"level":"info","message":"untouched"}` {
		t.Errorf("parent context changed: %s", got)
	}
}

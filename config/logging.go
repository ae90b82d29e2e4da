package config

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

func parseLevel(level string) (zerolog.Level, error) {
	return zerolog.ParseLevel(level)
}

// Logger builds the root logger: pretty on a terminal, JSON for log collectors.
func (l *LoggingConfig) Logger(out *os.File) zerolog.Logger {
	level, err := parseLevel(l.MinLevel)
	if err != nil {
		level = zerolog.InfoLevel
	}
	var w io.Writer = out
	pretty := l.Format == "pretty" || (l.Format == "auto" && isatty.IsTerminal(out.Fd()))
	if pretty {
		w = zerolog.ConsoleWriter{Out: out, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

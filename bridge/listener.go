package bridge

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"syscall"
	"time"

	"go.mau.fi/util/exhttp"
	"golang.org/x/net/netutil"
)

// server is the appservice listener (homeserver transactions, Stripe
// webhooks). mautrix's AppService.Start builds an http.Server without any
// timeout, so one client that never finishes its headers holds a connection
// forever; a thousand of them exhaust the file descriptors and nothing is
// served any more. The bridge therefore runs the server itself.
type server struct {
	http     *http.Server
	listener net.Listener
}

// newServer listens on the configured address with every limit applied.
func (br *Bridge) newServer() (*server, error) {
	limits := &br.Config.AppService.Limits
	host := br.AS.Host
	var (
		ln  net.Listener
		err error
	)
	if host.IsUnixSocket() {
		_ = syscall.Unlink(host.Hostname)
		ln, err = net.Listen("unix", host.Hostname)
	} else {
		ln, err = net.Listen("tcp", host.Address())
	}
	if err != nil {
		return nil, err
	}
	handler := exhttp.ApplyMiddleware(br.AS.Router, br.AS.Middleware...)
	handler = br.transactionGuard(handler)
	handler = br.readyEndpoint(handler)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: limits.HeaderTimeoutDuration(),
		ReadTimeout:       limits.ReadTimeoutDuration(),
		WriteTimeout:      limits.WriteTimeoutDuration(),
		IdleTimeout:       limits.IdleTimeoutDuration(),
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		// net/http reports broken clients here; keep them in our log (and redaction).
		ErrorLog:    stdlog.New(br.Log.With().Str("component", "http").Logger(), "", 0),
		BaseContext: func(net.Listener) context.Context { return br.Log.WithContext(context.Background()) },
	}
	return &server{http: srv, listener: netutil.LimitListener(ln, limits.MaxConnections)}, nil
}

// serve blocks until the server is shut down.
func (s *server) serve(br *Bridge) {
	br.Log.Info().Str("address", s.listener.Addr().String()).Msg("Starting HTTP listener")
	if err := s.http.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		br.Log.Error().Err(err).Msg("HTTP listener failed; the bridge cannot receive transactions or webhooks")
		br.die(fmt.Errorf("appservice HTTP listener failed: %w", err))
	}
}

// shutdown lets requests in flight finish for a few seconds, then closes.
func (s *server) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
	}
}

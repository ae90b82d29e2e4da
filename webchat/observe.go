package webchat

import (
	"errors"
	"net/http"
)

// Observer is told about sign-ins and live streams, for the bridge's
// metrics. Its methods must not block.
type Observer interface {
	// WebChatSession: a session was started for a configured account.
	WebChatSession(account string)
	// WebChatRefusal: a sign-in was refused; reason is the API's error
	// code (a fixed set).
	WebChatRefusal(reason string)
	// WebChatStream: a live stream of a configured account opened (true)
	// or ended (false).
	WebChatStream(account string, opened bool)
}

// refuse answers a failed sign-in and tells the observer why.
func (s *Server) refuse(w http.ResponseWriter, err error) {
	if s.opts.Observer != nil {
		var apiErr *apiError
		if !errors.As(err, &apiErr) {
			apiErr = errUnavailable
		}
		s.opts.Observer.WebChatRefusal(apiErr.code)
	}
	writeError(w, err)
}

package webchat

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
	"github.com/matrix-stripe/matrix-stripe/config"
)

type heard struct {
	mu       sync.Mutex
	refusals []string
	sessions []string
}

func (h *heard) WebChatSession(account string) {
	h.mu.Lock()
	h.sessions = append(h.sessions, account)
	h.mu.Unlock()
}

func (h *heard) WebChatRefusal(reason string) {
	h.mu.Lock()
	h.refusals = append(h.refusals, reason)
	h.mu.Unlock()
}

func (h *heard) WebChatStream(string, bool) {}

// TestSignInRefusalsObserved: each refused sign-in reaches the observer
// with the API's error code, the same one the widget gets.
func TestSignInRefusalsObserved(t *testing.T) {
	cfg, err := config.Parse([]byte(matrixstripe.ExampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.WebChat.Enabled = true
	cfg.WebChat.Accounts = map[string]*config.WebChatAccount{"main": {
		IdentitySecret: strings.Repeat("s", 32), AllowedOrigins: []string{"https://billing.example.com"},
	}}
	obs := &heard{}
	srv := New(Options{Config: cfg, Log: zerolog.Nop(), Observer: obs})
	for _, c := range []struct{ body, want string }{
		{`not json`, "bad_request"},
		{`{"account":"other","token":"x"}`, "web_chat_disabled"},
		{`{"account":"main","token":"not-a-jwt"}`, "token_invalid"},
	} {
		req := httptest.NewRequest(http.MethodPost, Prefix+"api/session", strings.NewReader(c.body))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if !strings.Contains(rec.Body.String(), `"error":"`+c.want+`"`) {
			t.Errorf("%s: answer %d %s, want %s", c.body, rec.Code, rec.Body, c.want)
		}
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if want := []string{"bad_request", "web_chat_disabled", "token_invalid"}; !slices.Equal(obs.refusals, want) {
		t.Errorf("observer heard %q, want %q", obs.refusals, want)
	}
	if len(obs.sessions) != 0 {
		t.Errorf("sessions reported for refusals: %q", obs.sessions)
	}
}

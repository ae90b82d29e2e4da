package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

const (
	webChatSecret = "e2e-web-chat-secret-0123456789abcdef"
	webChatOrigin = "https://billing.example.com"
)

func enableWebChat(cfg *config.Config) {
	cfg.WebChat.Enabled = true
	cfg.WebChat.Accounts = map[string]*config.WebChatAccount{"main": {
		IdentitySecret: webChatSecret, AllowedOrigins: []string{webChatOrigin},
		Title: "Billing support", Greeting: "Ask us anything", AccentColor: "#635bff",
	}}
}

func mintToken(t testing.TB, customerID string, expires time.Duration) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": customerID, "acct": "main", "iat": now.Unix(), "exp": now.Add(expires).Unix(), "name": "Wendy Web",
	}).SignedString([]byte(webChatSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// chatClient is the widget's side of the API, driven from Go.
type chatClient struct {
	t       testing.TB
	base    string
	session string
}

func (c *chatClient) call(method, path string, body any, out any) (int, map[string]string) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.base+"/webchat/v1/api/"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.session != "" {
		req.Header.Set("Authorization", "Bearer "+c.session)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var apiErr map[string]string
	if resp.StatusCode >= 300 {
		_ = json.Unmarshal(raw, &apiErr)
	} else if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, apiErr
}

func signIn(t testing.TB, base, token string) *chatClient {
	t.Helper()
	c := &chatClient{t: t, base: base}
	var resp struct {
		Session string `json:"session"`
		Title   string `json:"title"`
	}
	if code, apiErr := c.call("POST", "session", map[string]string{"account": "main", "token": token}, &resp); code != 200 {
		t.Fatalf("sign-in: %d %v", code, apiErr)
	}
	c.session = resp.Session
	return c
}

type chatMessage struct {
	ID     id.EventID `json:"id"`
	Text   string     `json:"text"`
	HTML   string     `json:"html"`
	Edited bool       `json:"edited"`
	Sender struct {
		Name      string `json:"name"`
		Kind      string `json:"kind"`
		AvatarURL string `json:"avatar_url"`
	} `json:"sender"`
	Actions []struct {
		Kind, Send, URL string
	} `json:"actions"`
}

func (c *chatClient) history() []chatMessage {
	c.t.Helper()
	var resp struct {
		Messages []chatMessage `json:"messages"`
	}
	if code, apiErr := c.call("GET", "history?limit=100", nil, &resp); code != 200 {
		c.t.Fatalf("history: %d %v", code, apiErr)
	}
	return resp.Messages
}

type sseEvent struct {
	name, id string
	data     []byte
}

// stream opens the live feed and returns its events as they come.
func (c *chatClient) stream(lastEventID string) <-chan sseEvent {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.t.Context(), "GET", c.base+"/webchat/v1/api/stream", nil)
	req.Header.Set("Authorization", "Bearer "+c.session)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		c.t.Fatalf("stream: %v %v", resp, err)
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.name != "" {
					out <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				cur.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				cur.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				cur.data = []byte(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return out
}

// awaitMessage reads the stream until a message matching want arrives.
func awaitMessage(t testing.TB, events <-chan sseEvent, what string, want func(chatMessage) bool) (chatMessage, string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case evt, ok := <-events:
			if !ok {
				t.Fatalf("stream ended waiting for %s", what)
			}
			if evt.name != "message" {
				continue
			}
			var msg chatMessage
			_ = json.Unmarshal(evt.data, &msg)
			if want(msg) {
				return msg, evt.id
			}
		case <-deadline:
			t.Fatalf("waited 30 s for %s", what)
		}
	}
}

func webChatCustomer(t testing.TB, fake *stripefake.Server) string {
	t.Helper()
	cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String("Wendy Web"), Email: stripe.String("wendy@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	return cus.ID
}

// A customer without a Matrix account signs in with the merchant's token,
// reads their billing history, asks the assistant, and talks with an agent
// who is in Element (here: a Matrix client) — live both ways, through
// Dendrite.
func TestWebChatConversation(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, configure: enableWebChat})
	base := s.cfg.AppService.Address
	customerID := webChatCustomer(t, fake)
	agent := s.user(t, "agent")

	chat := signIn(t, base, mintToken(t, customerID, 10*time.Minute))
	room := waitPortal(t, s, customerID).RoomID
	joinWhenInvited(t, agent, room)

	waitFor(t, 30*time.Second, "the billing history in the web chat", func() (bool, string) {
		for _, m := range chat.history() {
			if m.Sender.Kind == "billing" && strings.Contains(m.Text, "Your billing account is set up") {
				return true, ""
			}
		}
		return false, fmt.Sprint(chat.history())
	})

	events := chat.stream("")
	var sent struct {
		ID id.EventID `json:"id"`
	}
	if code, apiErr := chat.call("POST", "messages", map[string]string{"txn_id": "t1", "body": "When is my next bill?"}, &sent); code != 200 {
		t.Fatalf("send: %d %v", code, apiErr)
	}
	// The same transaction id again: the same message, not a second one.
	var again struct {
		ID id.EventID `json:"id"`
	}
	chat.call("POST", "messages", map[string]string{"txn_id": "t1", "body": "When is my next bill?"}, &again)
	if again.ID != sent.ID {
		t.Errorf("retried send posted %s, want the first send's %s", again.ID, sent.ID)
	}
	awaitMessage(t, events, "the customer's own message", func(m chatMessage) bool { return m.ID == sent.ID && m.Sender.Kind == "customer" })
	reply, _ := awaitMessage(t, events, "the assistant's answer", func(m chatMessage) bool { return m.Sender.Kind == "bot" })
	t.Logf("assistant: %s", reply.Text)

	// Commands work from the web chat as from Matrix.
	if code, apiErr := chat.call("POST", "messages", map[string]string{"txn_id": "t2", "body": "!stripe summary"}, nil); code != 200 {
		t.Fatalf("send command: %d %v", code, apiErr)
	}
	summary, _ := awaitMessage(t, events, "the summary command's answer", func(m chatMessage) bool {
		return m.Sender.Kind == "bot" && strings.Contains(m.Text, "Wendy Web")
	})
	t.Logf("summary: %s", summary.Text)

	// The agent sees the customer's message under their name, and answers.
	waitFor(t, 20*time.Second, "the customer's message in the agent's client", func() (bool, string) {
		for _, evt := range messages(t, agent, room) {
			if evt.ID == sent.ID {
				return true, ""
			}
		}
		return false, ""
	})
	// The agent's avatar comes through the bridge's own origin.
	png, _ := base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
	up, err := agent.UploadBytes(t.Context(), png, "image/png")
	if err != nil {
		t.Fatal(err)
	}
	if err = agent.SetAvatarURL(t.Context(), up.ContentURI); err != nil {
		t.Fatal(err)
	}
	xss := &event.MessageEventContent{MsgType: event.MsgText, Body: "Hi Wendy, see <img src=x onerror=alert(1)>",
		Format: event.FormatHTML, FormattedBody: `Hi Wendy, <b>see</b> <img src=x onerror="alert(1)"><a href="javascript:alert(2)">this</a> <a href="https://stripe.com/docs">docs</a>`}
	resp, err := agent.SendMessageEvent(t.Context(), room, event.EventMessage, xss)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := awaitMessage(t, events, "the agent's answer", func(m chatMessage) bool { return m.ID == resp.EventID })
	if msg.Sender.Kind != "agent" || msg.Sender.Name == "" {
		t.Errorf("agent message sender %+v", msg.Sender)
	}
	waitFor(t, 20*time.Second, "the agent's avatar in the history", func() (bool, string) {
		for _, m := range chat.history() {
			if m.ID == resp.EventID && m.Sender.AvatarURL != "" {
				msg = m
				return true, ""
			}
		}
		return false, ""
	})
	avatar, err := http.Get(base + "/webchat/v1/" + strings.TrimPrefix(msg.Sender.AvatarURL, "./"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(avatar.Body)
	avatar.Body.Close()
	if avatar.StatusCode != 200 || !strings.HasPrefix(avatar.Header.Get("Content-Type"), "image/") || len(got) == 0 {
		t.Errorf("avatar: %d %s, %d bytes", avatar.StatusCode, avatar.Header.Get("Content-Type"), len(got))
	}
	forged, err := http.Get(base + "/webchat/v1/avatar?m=" + url.QueryEscape(up.ContentURI.String()) + "&s=00")
	if err != nil {
		t.Fatal(err)
	}
	forged.Body.Close()
	if forged.StatusCode != 404 {
		t.Errorf("an avatar URL the bridge did not sign was served: %d", forged.StatusCode)
	}
	for _, bad := range []string{"<img", "onerror", "javascript:"} {
		if strings.Contains(msg.HTML, bad) {
			t.Errorf("agent HTML reached the widget unsanitised (%s): %s", bad, msg.HTML)
		}
	}
	if !strings.Contains(msg.HTML, `<b>see</b>`) || !strings.Contains(msg.HTML, `href="https://stripe.com/docs"`) ||
		!strings.Contains(msg.HTML, `target="_blank"`) || !strings.Contains(msg.HTML, "noopener") {
		t.Errorf("allowed formatting or the safe link lost: %s", msg.HTML)
	}

	// An edit and a redaction reach the widget too.
	edit := &event.MessageEventContent{MsgType: event.MsgText, Body: "Hi Wendy, edited"}
	edit.SetEdit(resp.EventID)
	if _, err = agent.SendMessageEvent(t.Context(), room, event.EventMessage, edit); err != nil {
		t.Fatal(err)
	}
	edited, lastID := awaitMessage(t, events, "the agent's edit", func(m chatMessage) bool { return m.ID == resp.EventID && m.Edited })
	if edited.Text != "Hi Wendy, edited" {
		t.Errorf("edit shows %q", edited.Text)
	}
	for _, m := range chat.history() {
		if m.ID == resp.EventID && m.Text != "Hi Wendy, edited" {
			t.Errorf("history shows the agent's message unedited: %q", m.Text)
		}
	}

	// Resuming after the edit replays what came since: a redaction.
	// Dendrite v0.13.8 pushes no redactions to appservices, so a widget
	// learns of one when its stream resumes, from the room's history; the
	// stream resumes once the history shows it (the sync API lags the send).
	if _, err = agent.RedactEvent(t.Context(), room, sent.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the redaction in the room's history", func() (bool, string) {
		for _, evt := range messages(t, agent, room) {
			if evt.ID == sent.ID {
				return evt.Unsigned.RedactedBecause != nil, "not redacted yet"
			}
		}
		return true, ""
	})
	resumed := chat.stream(lastID)
	waitFor(t, 30*time.Second, "the redaction on a resumed stream", func() (bool, string) {
		select {
		case evt := <-resumed:
			return evt.name == "redaction" && strings.Contains(string(evt.data), string(sent.ID)), evt.name
		case <-time.After(time.Second):
			return false, "nothing"
		}
	})
	for _, m := range chat.history() {
		if m.ID == sent.ID {
			t.Error("a redacted message is still in the history")
		}
	}
}

// Bad sign-ins get a clear refusal with its own code, and a session reads
// its own customer's room only.
func TestWebChatRefusals(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, configure: enableWebChat})
	base := s.cfg.AppService.Address
	customerID := webChatCustomer(t, fake)
	c := &chatClient{t: t, base: base}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": customerID, "acct": "main", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString([]byte("not-the-merchant-secret-000000000"))
	for _, tc := range []struct {
		name, token, code string
	}{
		{"forged", forged, "token_invalid"},
		{"expired", mintToken(t, customerID, -10*time.Minute), "token_expired"},
		{"unknown customer", mintToken(t, "cus_DoesNotExist1", time.Minute), "unknown_customer"},
	} {
		status, apiErr := c.call("POST", "session", map[string]string{"account": "main", "token": tc.token}, nil)
		if status != 401 || apiErr["error"] != tc.code || apiErr["message"] == "" {
			t.Errorf("%s: %d %v, want 401 %s with a message", tc.name, status, apiErr, tc.code)
		}
	}
	if status, _ := (&chatClient{t: t, base: base, session: "wcs_guess"}).call("GET", "history", nil, nil); status != 401 {
		t.Errorf("a made-up session read a history: %d", status)
	}
	// A page of another origin may not call the API.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/webchat/v1/api/session", strings.NewReader(`{}`))
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("cross-origin call from a stranger: %d, allow-origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	frame, err := http.Get(base + "/webchat/v1/frame?account=main")
	if err != nil {
		t.Fatal(err)
	}
	frame.Body.Close()
	if csp := frame.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+webChatOrigin) || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("frame CSP %q", csp)
	}

	// Deleting the customer ends the session.
	chat := signIn(t, base, mintToken(t, customerID, time.Minute))
	if _, err := fake.Client().Customers.Del(customerID, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the session to end with the customer", func() (bool, string) {
		status, apiErr := chat.call("GET", "history", nil, nil)
		return status == 401 && apiErr["error"] == "session_ended", fmt.Sprint(status)
	})
}

// Two bridge processes on one PostgreSQL: the widget streams from process
// B while the homeserver delivers the agent's message to process A.
func TestWebChatAcrossProcesses(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, configure: enableWebChat, dbType: "postgres", dbURI: dbtest.PostgresURI(t)})
	customerID := webChatCustomer(t, fake)
	agent := s.user(t, "agent")
	chatA := signIn(t, s.cfg.AppService.Address, mintToken(t, customerID, time.Minute))
	room := waitPortal(t, s, customerID).RoomID
	joinWhenInvited(t, agent, room)

	// Process B: the homeserver pushes transactions to A only.
	chatB := &chatClient{t: t, base: s.secondProcess(t), session: chatA.session}
	events := chatB.stream("")
	waitListening(t, s, "matrix_stripe_webchat", 2)
	resp, err := agent.SendMessageEvent(context.Background(), room, event.EventMessage,
		&event.MessageEventContent{MsgType: event.MsgText, Body: "Answer from the agent"})
	if err != nil {
		t.Fatal(err)
	}
	awaitMessage(t, events, "the agent's message on the other process's stream", func(m chatMessage) bool { return m.ID == resp.EventID })
}

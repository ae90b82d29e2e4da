package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

func enablePanel(cfg *config.Config) {
	cfg.Panel.Enabled = true
	cfg.Panel.PublicURL = "https://bridge.test"
}

// panelSignIn posts the user's OpenID token (from the real homeserver, as
// the Widget API's get_openid hands it over) to the panel.
func panelSignIn(t *testing.T, base string, cli *mautrix.Client) (int, map[string]any) {
	t.Helper()
	tok, err := cli.RequestOpenIDToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"access_token": tok.AccessToken, "matrix_server_name": tok.MatrixServerName,
		"expires_in": tok.ExpiresIn, "token_type": tok.TokenType})
	return panelCall(t, http.MethodPost, base+"/panel/v1/session", "", body)
}

func panelCall(t *testing.T, method, url, token string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// An agent signs in to the panel with an OpenID token the real homeserver
// issued and verifies, and reads the customer's billing; a customer's and
// a stranger's tokens get nothing. Every customer room carries the widget,
// pinned.
func TestPanelSignInAndSummary(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, configure: enablePanel})
	base := s.cfg.AppService.Address
	cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String("Pat Panel"), Email: stripe.String("pat@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	room := waitPortal(t, s, cus.ID).RoomID

	// The widget and its layout, set by the bridge within a pass.
	var widget map[string]any
	waitFor(t, 60*time.Second, "the panel widget in the customer room", func() (bool, string) {
		err := s.bridge.Bot.StateEvent(context.Background(), room, event.Type{Type: "im.vector.modular.widgets", Class: event.StateEventType}, portal.PanelWidgetID, &widget)
		return err == nil && widget["url"] != nil, fmt.Sprint(err)
	})
	if got, want := widget["url"], "https://bridge.test/panel/v1/?room=$matrix_room_id"; got != want {
		t.Errorf("widget url %v, want %v", got, want)
	}
	// The layout is sent after the widget.
	waitFor(t, 30*time.Second, "the layout pinning the panel", func() (bool, string) {
		var layout map[string]map[string]map[string]any
		err := s.bridge.Bot.StateEvent(context.Background(), room, event.Type{Type: "io.element.widgets.layout", Class: event.StateEventType}, "", &layout)
		return err == nil && layout["widgets"][portal.PanelWidgetID]["container"] == "right", fmt.Sprint(layout, err)
	})

	agent := s.user(t, "agent")
	status, session := panelSignIn(t, base, agent)
	if status != http.StatusOK || session["user_id"] != "@agent:localhost" || session["token"] == nil || session["csrf_token"] == nil {
		t.Fatalf("agent sign-in: %d %v", status, session)
	}
	token := session["token"].(string)
	status, summary := panelCall(t, http.MethodGet, base+"/panel/v1/rooms/"+url.PathEscape(room.String())+"/summary", token, nil)
	if status != http.StatusOK {
		t.Fatalf("summary: %d %v", status, summary)
	}
	customer, _ := summary["customer"].(map[string]any)
	if customer["name"] != "Pat Panel" || customer["email"] != "pat@example.com" || customer["id"] != cus.ID ||
		!strings.Contains(fmt.Sprint(customer["dashboard_url"]), "/test/customers/"+cus.ID) {
		t.Errorf("summary customer %v", customer)
	}
	if status, _ := panelCall(t, http.MethodGet, base+"/panel/v1/rooms/"+url.PathEscape(room.String())+"/summary", "", nil); status != http.StatusUnauthorized {
		t.Errorf("summary without a session: %d, want 401", status)
	}
	if status, _ := panelCall(t, http.MethodGet, base+"/panel/v1/rooms/"+url.PathEscape(room.String())+"/summary", token+"x", nil); status != http.StatusUnauthorized {
		t.Errorf("summary with a forged session: %d, want 401", status)
	}

	// A user without a role, and a made-up token.
	stranger := s.user(t, "stranger")
	if status, body := panelSignIn(t, base, stranger); status != http.StatusForbidden || body["error"] != "for_support_staff" {
		t.Errorf("stranger sign-in: %d %v", status, body)
	}
	forged, _ := json.Marshal(map[string]any{"access_token": "not-a-token", "matrix_server_name": "localhost"})
	if status, body := panelCall(t, http.MethodPost, base+"/panel/v1/session", "", forged); status != http.StatusUnauthorized {
		t.Errorf("forged token: %d %v", status, body)
	}
	otherServer, _ := json.Marshal(map[string]any{"access_token": "x", "matrix_server_name": "evil.example"})
	if status, _ := panelCall(t, http.MethodPost, base+"/panel/v1/session", "", otherServer); status != http.StatusForbidden {
		t.Errorf("token of another homeserver: %d, want 403", status)
	}
}

// Outside Element, `panel` in the management room sends a one-time link:
// it signs the agent in once, and never again.
func TestPanelSignInLink(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, configure: enablePanel})
	base := s.cfg.AppService.Address
	cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String("Lina Link"), Email: stripe.String("lina@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	room := waitPortal(t, s, cus.ID).RoomID
	agent := s.user(t, "agent")
	bot := s.bridge.Bot.UserID
	dm, err := agent.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{bot}})
	if err != nil {
		t.Fatal(err)
	}
	waitForReply(t, agent, dm.RoomID, bot, "management room")
	reply := send(t, agent, dm.RoomID, bot, "panel lina@example.com")
	_, link, found := strings.Cut(reply, "https://bridge.test/panel/v1/?room=")
	if !found {
		t.Fatalf("panel reply %q has no link", reply)
	}
	roomParam, token, found := strings.Cut(strings.Fields(link)[0], "#link=")
	if unescaped, _ := url.QueryUnescape(roomParam); !found || unescaped != room.String() {
		t.Fatalf("link %q: want the room %s and a token in the fragment", link, room)
	}
	body, _ := json.Marshal(map[string]string{"token": token})
	status, session := panelCall(t, http.MethodPost, base+"/panel/v1/link", "", body)
	if status != http.StatusOK || session["user_id"] != agent.UserID.String() {
		t.Fatalf("link sign-in: %d %v", status, session)
	}
	if status, _ := panelCall(t, http.MethodGet, base+"/panel/v1/rooms/"+url.PathEscape(room.String())+"/summary", session["token"].(string), nil); status != http.StatusOK {
		t.Errorf("summary after the link: %d", status)
	}
	if status, again := panelCall(t, http.MethodPost, base+"/panel/v1/link", "", body); status != http.StatusUnauthorized || again["error"] != "link_used" {
		t.Errorf("the link used twice: %d %v", status, again)
	}
}

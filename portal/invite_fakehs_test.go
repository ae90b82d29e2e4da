package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// fakeHS is a recording homeserver with just the endpoints room creation and
// invites use. Users on downDomain cannot be invited, like users of a remote
// server that cannot be reached; inviting a joined user is refused the way
// Dendrite refuses it.
type fakeHS struct {
	t          testing.TB
	downDomain string

	mu      sync.Mutex
	created []mautrix.ReqCreateRoom
	invites []string // "room user", in request order
	kicks   []string
	members map[string]event.Membership // "room user" → membership
}

func newFakeHS(t testing.TB, downDomain string) (*fakeHS, *httptest.Server) {
	hs := &fakeHS{t: t, downDomain: downDomain, members: map[string]event.Membership{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_matrix/client/v3/createRoom", hs.createRoom)
	mux.HandleFunc("POST /_matrix/client/v3/rooms/{room}/invite", hs.invite)
	mux.HandleFunc("POST /_matrix/client/v3/rooms/{room}/kick", hs.kick)
	mux.HandleFunc("GET /_matrix/client/v3/rooms/{room}/state/m.room.member/{user}", hs.member)
	mux.HandleFunc("PUT /_matrix/client/v3/rooms/{room}/state/{rest...}", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string]string{"event_id": "$state"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake homeserver: unexpected %s %s", r.Method, r.URL.Path)
		reply(w, http.StatusNotFound, map[string]string{"errcode": "M_UNRECOGNIZED"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return hs, srv
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func (hs *fakeHS) createRoom(w http.ResponseWriter, r *http.Request) {
	var req mautrix.ReqCreateRoom
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"errcode": "M_BAD_JSON"})
		return
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.created = append(hs.created, req)
	room := fmt.Sprintf("!room%d:test", len(hs.created))
	for _, user := range req.Invite {
		if strings.HasSuffix(string(user), ":"+hs.downDomain) {
			// A homeserver fails the whole request, after the room exists.
			reply(w, http.StatusForbidden, map[string]string{"errcode": "M_FORBIDDEN", "error": "federation down"})
			return
		}
		hs.members[room+" "+string(user)] = event.MembershipInvite
	}
	reply(w, http.StatusOK, map[string]string{"room_id": room})
}

func (hs *fakeHS) invite(w http.ResponseWriter, r *http.Request) {
	var req mautrix.ReqInviteUser
	_ = json.NewDecoder(r.Body).Decode(&req)
	key := r.PathValue("room") + " " + string(req.UserID)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.invites = append(hs.invites, key)
	switch {
	case strings.HasSuffix(string(req.UserID), ":"+hs.downDomain):
		reply(w, http.StatusForbidden, map[string]string{"errcode": "M_FORBIDDEN", "error": "federation down"})
	case hs.members[key] == event.MembershipJoin:
		reply(w, http.StatusForbidden, map[string]string{"errcode": "M_FORBIDDEN", "error": `target cannot be invited when their membership is "join"`})
	default:
		hs.members[key] = event.MembershipInvite
		reply(w, http.StatusOK, map[string]string{})
	}
}

func (hs *fakeHS) kick(w http.ResponseWriter, r *http.Request) {
	var req mautrix.ReqKickUser
	_ = json.NewDecoder(r.Body).Decode(&req)
	key := r.PathValue("room") + " " + string(req.UserID)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.kicks = append(hs.kicks, key)
	hs.members[key] = event.MembershipLeave
	reply(w, http.StatusOK, map[string]string{})
}

func (hs *fakeHS) member(w http.ResponseWriter, r *http.Request) {
	hs.mu.Lock()
	membership, ok := hs.members[r.PathValue("room")+" "+r.PathValue("user")]
	hs.mu.Unlock()
	if !ok {
		reply(w, http.StatusNotFound, map[string]string{"errcode": "M_NOT_FOUND", "error": "no member event"})
		return
	}
	reply(w, http.StatusOK, map[string]string{"membership": string(membership)})
}

// setDown changes which server cannot be reached.
func (hs *fakeHS) setDown(domain string) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.downDomain = domain
}

func (hs *fakeHS) setMember(room id.RoomID, user id.UserID, membership event.Membership) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.members[string(room)+" "+string(user)] = membership
}

// requests returns copies of what was asked so far.
func (hs *fakeHS) requests() (created []mautrix.ReqCreateRoom, invites, kicks []string) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return append([]mautrix.ReqCreateRoom(nil), hs.created...), append([]string(nil), hs.invites...), append([]string(nil), hs.kicks...)
}

// newTestManager is a Manager on the fake homeserver and a fresh SQLite
// database, with account "main" stored and agents invited to its rooms.
func newTestManager(t *testing.T, hs *httptest.Server, agents ...id.UserID) *Manager {
	t.Helper()
	cfg := &config.Config{
		Homeserver: config.HomeserverConfig{Address: hs.URL, Domain: "test"},
		AppService: config.AppServiceConfig{
			ID: "stripe", Bot: config.BotConfig{Username: "stripebot"}, UsernameTemplate: "stripe_{{.}}",
			ASToken: "as_token", HSToken: "hs_token",
		},
		Stripe: config.StripeConfig{Accounts: []config.AccountConfig{{Alias: "main", DisplayName: "Demo Shop", DashboardURL: "https://dashboard.stripe.com"}}},
		Bridge: config.BridgeConfig{InviteAgents: map[string][]id.UserID{"main": agents}, CustomerLinkKey: "matrix_user_id"},
	}
	as, err := appservice.CreateFull(appservice.CreateOpts{Registration: cfg.Registration(), HomeserverDomain: "test", HomeserverURL: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	db := database.New(dbtest.SQLite(t))
	ctx := context.Background()
	if err = db.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	if err = db.Account.Upsert(ctx, &database.Account{ID: "main", DisplayName: "Demo Shop"}); err != nil {
		t.Fatal(err)
	}
	return &Manager{Config: cfg, DB: db, AS: as, Bot: as.BotIntent()}
}

package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// creatingHS creates rooms the way Dendrite v0.13.8 does when the client
// goes away mid-request: the room is made (its events were queued before
// the client left), the alias is not set, and the client never hears of
// it. cut says what the next room request does; a cut room may appear only
// some /joined_rooms requests later, as a queue still being worked through.
type creatingHS struct {
	t      *testing.T
	mu     sync.Mutex
	serial int
	rooms  map[id.RoomID]*fakeRoom
	alias  map[id.RoomAlias]id.RoomID
	// cut: the next room request is cut short, leaving a room that shows
	// after appearAfter /joined_rooms requests, whole or (partial) with
	// only its first events.
	cut         bool
	partial     bool
	appearAfter int
	creates     int
	joinedCalls int
}

type fakeRoom struct {
	create    map[string]any
	canonical id.RoomAlias
	botJoined bool
	showsFrom int // joinedCalls from which the room shows
}

func newCreatingHS(t *testing.T) (*creatingHS, *httptest.Server) {
	hs := &creatingHS{t: t, rooms: map[id.RoomID]*fakeRoom{}, alias: map[id.RoomAlias]id.RoomID{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_matrix/client/v3/createRoom", hs.createRoom)
	mux.HandleFunc("GET /_matrix/client/v3/joined_rooms", hs.joinedRooms)
	mux.HandleFunc("GET /_matrix/client/v3/rooms/{room}/state/{type}/", hs.state)
	mux.HandleFunc("PUT /_matrix/client/v3/rooms/{room}/state/{rest...}", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string]string{"event_id": "$state"})
	})
	mux.HandleFunc("POST /_matrix/client/v3/rooms/{room}/invite", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string]string{})
	})
	mux.HandleFunc("POST /_matrix/client/v3/rooms/{room}/leave", hs.leave)
	mux.HandleFunc("PUT /_matrix/client/v3/directory/room/{alias}", hs.setAlias)
	mux.HandleFunc("GET /_matrix/client/v3/directory/room/{alias}", hs.resolveAlias)
	mux.HandleFunc("POST /_matrix/client/v3/register", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]string{"user_id": r.URL.Query().Get("user_id")})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake homeserver: unexpected %s %s", r.Method, r.URL.Path)
		reply(w, http.StatusNotFound, map[string]string{"errcode": "M_UNRECOGNIZED"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return hs, srv
}

func (hs *creatingHS) createRoom(w http.ResponseWriter, r *http.Request) {
	var req mautrix.ReqCreateRoom
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"errcode": "M_BAD_JSON"})
		return
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.creates++
	alias := id.NewRoomAlias(req.RoomAliasName, "test")
	if _, taken := hs.alias[alias]; taken {
		reply(w, http.StatusBadRequest, map[string]string{"errcode": "M_ROOM_IN_USE"})
		return
	}
	hs.serial++
	room := id.RoomID(fmt.Sprintf("!room%d:test", hs.serial))
	fr := &fakeRoom{create: req.CreationContent, botJoined: true, canonical: alias}
	hs.rooms[room] = fr
	if hs.cut {
		hs.cut = false
		fr.showsFrom = hs.joinedCalls + hs.appearAfter
		if hs.partial {
			fr.canonical = ""
		}
		// What a client cut off sees; it never gets the room id.
		reply(w, http.StatusBadGateway, map[string]string{"errcode": "M_UNKNOWN"})
		return
	}
	hs.alias[alias] = room
	reply(w, http.StatusOK, map[string]string{"room_id": string(room)})
}

func (hs *creatingHS) joinedRooms(w http.ResponseWriter, _ *http.Request) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.joinedCalls++
	joined := []id.RoomID{}
	for room, fr := range hs.rooms {
		if fr.botJoined && fr.showsFrom < hs.joinedCalls {
			joined = append(joined, room)
		}
	}
	reply(w, http.StatusOK, map[string]any{"joined_rooms": joined})
}

func (hs *creatingHS) state(w http.ResponseWriter, r *http.Request) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	room := id.RoomID(r.PathValue("room"))
	fr := hs.rooms[room]
	notFound := map[string]string{"errcode": "M_NOT_FOUND"}
	switch {
	case fr == nil:
		reply(w, http.StatusForbidden, map[string]string{"errcode": "M_FORBIDDEN"})
	case r.PathValue("type") == "m.room.create":
		reply(w, http.StatusOK, map[string]any{"type": "m.room.create", "state_key": "", "sender": "@stripebot:test",
			"room_id": room, "event_id": "$create-" + string(room), "content": fr.create})
	case r.PathValue("type") == "m.room.canonical_alias" && fr.canonical != "":
		reply(w, http.StatusOK, map[string]any{"alias": fr.canonical})
	default:
		reply(w, http.StatusNotFound, notFound)
	}
}

func (hs *creatingHS) leave(w http.ResponseWriter, r *http.Request) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if fr := hs.rooms[id.RoomID(r.PathValue("room"))]; fr != nil {
		fr.botJoined = false
	}
	reply(w, http.StatusOK, map[string]string{})
}

func (hs *creatingHS) setAlias(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RoomID id.RoomID `json:"room_id"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	alias := id.RoomAlias(r.PathValue("alias"))
	if _, taken := hs.alias[alias]; taken {
		reply(w, http.StatusConflict, map[string]string{"errcode": "M_UNKNOWN", "error": "alias exists"})
		return
	}
	hs.alias[alias] = req.RoomID
	reply(w, http.StatusOK, map[string]string{})
}

func (hs *creatingHS) resolveAlias(w http.ResponseWriter, r *http.Request) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	room, ok := hs.alias[id.RoomAlias(r.PathValue("alias"))]
	if !ok {
		reply(w, http.StatusNotFound, map[string]string{"errcode": "M_NOT_FOUND"})
		return
	}
	reply(w, http.StatusOK, map[string]any{"room_id": room, "servers": []string{"test"}})
}

// botRooms returns the customer rooms (not the Space) the bot is in, and
// how many room requests were made.
func (hs *creatingHS) botRooms() (rooms []id.RoomID, creates int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for room, fr := range hs.rooms {
		if fr.botJoined && fr.create["type"] != "m.space" {
			rooms = append(rooms, room)
		}
	}
	return rooms, hs.creates
}

// A room request cut short leaves a room on the homeserver without its
// alias; the retry adopts that room instead of asking for another, also
// when the room shows only a while after the retry first looks. A room
// whose creation stopped part-way is left and a new one made.
func TestRetryAdoptsRoomOfCutCreation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		appearAfter int
		partial     bool
		wantAdopted bool
	}{
		{"the room is there", 0, false, true},
		{"the room shows on the third look", 3, false, true},
		{"the creation stopped part-way", 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, srv := newCreatingHS(t)
			m := newTestManager(t, srv)
			m.createSettle = 2 * time.Second
			ctx := context.Background()
			const customerID = "cus_PRrPqNXdZ3aB1c"
			cus := &stripe.Customer{ID: customerID, Name: "Ada Lovelace"}
			if _, err := m.EnsureSpace(ctx, "main"); err != nil {
				t.Fatal(err)
			}
			hs.mu.Lock()
			hs.cut, hs.partial, hs.appearAfter = true, tc.partial, tc.appearAfter
			hs.mu.Unlock()
			// One HTTP attempt: the cut is the failure, not mautrix's retries of it.
			oneTry := context.WithValue(ctx, mautrix.MaxAttemptsContextKey, 1)
			if _, err := m.EnsurePortal(oneTry, "main", customerID, cus); err == nil {
				t.Fatal("the cut room request did not fail")
			}
			cutRooms, _ := hs.botRooms()

			portal, err := m.EnsurePortal(ctx, "main", customerID, cus)
			if err != nil {
				t.Fatal(err)
			}
			rooms, creates := hs.botRooms()
			if len(rooms) != 1 || rooms[0] != portal.RoomID {
				t.Errorf("the bot is in customer rooms %v, want only the recorded %s", rooms, portal.RoomID)
			}
			adopted := creates == 2 // the Space and the cut request
			if adopted != tc.wantAdopted {
				t.Errorf("%d room requests (Space included): adopted %v, want %v", creates, adopted, tc.wantAdopted)
			}
			if tc.wantAdopted && tc.appearAfter == 0 && (len(cutRooms) != 1 || cutRooms[0] != portal.RoomID) {
				t.Errorf("recorded %s, want the room of the cut request %v", portal.RoomID, cutRooms)
			}
			resolved, err := m.Bot.ResolveAlias(ctx, m.Config.RoomAlias("main", customerChannel(customerID)))
			if err != nil || resolved.RoomID != portal.RoomID {
				t.Errorf("the alias resolves to %+v (%v), want %s", resolved, err, portal.RoomID)
			}
		})
	}
}

// A first room request pays nothing for this: no look at the bot's rooms.
func TestFirstRoomRequestDoesNotLook(t *testing.T) {
	hs, srv := newCreatingHS(t)
	m := newTestManager(t, srv)
	const customerID = "cus_PRrPqNXdZ3aB1c"
	if _, err := m.EnsurePortal(context.Background(), "main", customerID, &stripe.Customer{ID: customerID, Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.joinedCalls != 0 {
		t.Errorf("%d /joined_rooms requests for a first room request, want none", hs.joinedCalls)
	}
}

// The account's Space and feed room are reserved like customer rooms: a
// retry after a cut request adopts the room it made, so the account has
// one of each however its creation was interrupted.
func TestRetryAdoptsAccountRoomOfCutCreation(t *testing.T) {
	for _, kind := range []string{"space", "feed"} {
		t.Run(kind, func(t *testing.T) {
			hs, srv := newCreatingHS(t)
			m := newTestManager(t, srv)
			m.createSettle = 2 * time.Second
			ctx := context.Background()
			ensure := m.EnsureSpace
			if kind == "feed" {
				if _, err := m.EnsureSpace(ctx, "main"); err != nil {
					t.Fatal(err)
				}
				ensure = m.EnsureFeedRoom
			}
			hs.mu.Lock()
			hs.cut, hs.appearAfter = true, 1
			before := hs.creates
			hs.mu.Unlock()
			oneTry := context.WithValue(ctx, mautrix.MaxAttemptsContextKey, 1)
			if _, err := ensure(oneTry, "main"); err == nil {
				t.Fatal("the cut room request did not fail")
			}

			room, err := ensure(ctx, "main")
			if err != nil {
				t.Fatal(err)
			}
			hs.mu.Lock()
			creates := hs.creates - before
			var made []id.RoomID
			for r, fr := range hs.rooms {
				if fr.create[creationAliasKey] == m.Config.RoomAlias("main", kind).String() {
					made = append(made, r)
				}
			}
			hs.mu.Unlock()
			if creates != 1 || len(made) != 1 || made[0] != room {
				t.Errorf("%d room requests made %v; want one request, its room %s recorded", creates, made, room)
			}
			again, err := ensure(ctx, "main")
			if err != nil || again != room {
				t.Errorf("the next call returns %s (%v), want the recorded %s", again, err, room)
			}
		})
	}
}

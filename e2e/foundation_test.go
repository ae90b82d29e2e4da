package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
)

func TestFoundation(t *testing.T) {
	mock := testenv.StripeMockServer(t)
	s := startStack(t, stackOptions{stripeURL: mock.URL})
	bot := s.cfg.BotMXID()
	agent := s.user(t, "agent")

	t.Run("bot has its display name", func(t *testing.T) {
		resp, err := agent.GetDisplayName(t.Context(), bot)
		if err != nil {
			t.Fatal(err)
		}
		if resp.DisplayName != s.cfg.AppService.Bot.Displayname {
			t.Errorf("bot display name %q, want %q", resp.DisplayName, s.cfg.AppService.Bot.Displayname)
		}
	})

	t.Run("agent DM becomes a management room", func(t *testing.T) {
		room, err := agent.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{
			Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{bot},
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "bot to join", func() (bool, string) {
			m := membership(t, agent, room.RoomID, bot)
			return m == event.MembershipJoin, string(m)
		})
		waitForReply(t, agent, room.RoomID, bot, "management room")
		if _, err = agent.SendText(t.Context(), room.RoomID, "help"); err != nil {
			t.Fatal(err)
		}
		reply := waitForReply(t, agent, room.RoomID, bot, "ping")
		if reply.Content.AsMessage().MsgType != event.MsgNotice {
			t.Errorf("reply is %s, want m.notice", reply.Content.AsMessage().MsgType)
		}
		if _, err = agent.SendText(t.Context(), room.RoomID, "ping"); err != nil {
			t.Fatal(err)
		}
		waitForReply(t, agent, room.RoomID, bot, "reachable as")
		if _, err = agent.SendText(t.Context(), room.RoomID, "frobnicate"); err != nil {
			t.Fatal(err)
		}
		waitForReply(t, agent, room.RoomID, bot, "Unknown command")
	})

	t.Run("outside the management room the prefix is required", func(t *testing.T) {
		room, err := agent.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bot}})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "bot to join", func() (bool, string) {
			m := membership(t, agent, room.RoomID, bot)
			return m == event.MembershipJoin, string(m)
		})
		if _, err = agent.SendText(t.Context(), room.RoomID, "version"); err != nil {
			t.Fatal(err)
		}
		if _, err = agent.SendText(t.Context(), room.RoomID, "!stripe version"); err != nil {
			t.Fatal(err)
		}
		reply := waitForReply(t, agent, room.RoomID, bot, "matrix-stripe e2e")
		count := 0
		for _, evt := range messages(t, agent, room.RoomID) {
			if evt.Sender == bot {
				count++
			}
		}
		if count != 1 {
			t.Errorf("bot sent %d messages, want exactly one reply (to the prefixed command), last %q", count, reply.Content.AsMessage().Body)
		}
	})

	t.Run("user without a role is refused", func(t *testing.T) {
		stranger := s.user(t, "stranger")
		room, err := stranger.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{
			Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{bot},
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "bot to reject the invite", func() (bool, string) {
			m := membership(t, stranger, room.RoomID, bot)
			return m == event.MembershipLeave, string(m)
		})
		mgmt, err := s.bridge.DB.ManagementRoom.Get(t.Context(), stranger.UserID)
		if err != nil || mgmt != nil {
			t.Errorf("stranger got a management room %+v (err %v)", mgmt, err)
		}
	})

	t.Run("transactions need the hs_token", func(t *testing.T) {
		url := s.cfg.AppService.Address + "/_matrix/app/v1/transactions/"
		cases := []struct {
			token   string
			want    int
			errcode string
		}{
			{"", http.StatusUnauthorized, "M_MISSING_TOKEN"},
			{"wrong-token", http.StatusUnauthorized, "M_UNKNOWN_TOKEN"},
			{s.cfg.AppService.ASToken, http.StatusUnauthorized, "M_UNKNOWN_TOKEN"},
			{s.cfg.AppService.HSToken, http.StatusOK, ""},
		}
		for i, c := range cases {
			req, _ := http.NewRequest(http.MethodPut, url+"probe"+strconv.Itoa(i), bytes.NewReader([]byte(`{"events":[]}`)))
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Errcode string `json:"errcode"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != c.want || body.Errcode != c.errcode {
				t.Errorf("case %d: status %d %q, want %d %q", i, resp.StatusCode, body.Errcode, c.want, c.errcode)
			}
		}
	})
}

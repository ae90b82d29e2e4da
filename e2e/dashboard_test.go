package e2e

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/browsertest"
)

// dashboardGet reads one of the dashboard's API answers with the session.
func dashboardGet(t *testing.T, base, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// dashboardSession signs the agent in with the link `dashboard` sends in
// the management room.
func dashboardSession(t *testing.T, s *stack, agent *mautrix.Client) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"token": dashboardLink(t, s, agent)})
	status, session := panelCall(t, http.MethodPost, s.cfg.AppService.Address+"/panel/v1/link", "", body)
	if status != http.StatusOK {
		t.Fatalf("link sign-in: %d %v", status, session)
	}
	return session["token"].(string)
}

// dashboardLink asks for a sign-in link in the management room and
// returns its token.
func dashboardLink(t *testing.T, s *stack, agent *mautrix.Client) string {
	t.Helper()
	bot := s.bridge.Bot.UserID
	dm, err := agent.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{bot}})
	if err != nil {
		t.Fatal(err)
	}
	waitForReply(t, agent, dm.RoomID, bot, "management room")
	reply := send(t, agent, dm.RoomID, bot, "dashboard")
	_, token, found := strings.Cut(reply, s.cfg.Panel.DashboardURL()+"#link=")
	if !found {
		t.Fatalf("dashboard reply %q has no link", reply)
	}
	return strings.Fields(token)[0]
}

// scriptedConversation plays one support conversation through the real
// stack: the customer asks, the agent answers, refunds $12.50 and
// resolves, the customer says 👍 to the question that follows.
func scriptedConversation(t *testing.T, configure func(*config.Config)) (s *stack, room id.RoomID, agent, alice *mautrix.Client) {
	t.Helper()
	fake := scenarioFake(t, commandsScenario)
	s = startStack(t, stackOptions{fake: fake, configure: configure})
	bot := s.cfg.BotMXID()
	agent, alice = s.user(t, "agent"), s.user(t, "alice")
	room = aliceRoom(t, s, fake, agent, alice)
	if _, err := alice.SendText(t.Context(), room, "Hello, I was charged twice"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := agent.SendText(t.Context(), room, "Sorry about that, let me look"); err != nil {
		t.Fatal(err)
	}
	inv, err := fake.Client().Invoices.Get("in_alice_paid", nil)
	if err != nil || inv.Charge == nil {
		t.Fatalf("invoice charge: %v", err)
	}
	send(t, agent, room, bot, "!stripe refund "+inv.Charge.ID+" 12.50")
	if done := send(t, agent, room, bot, "!stripe confirm"); !strings.Contains(done, "Refunded $12.50") {
		t.Fatalf("confirm %q", done)
	}
	send(t, agent, room, bot, "!stripe resolve")
	question := waitForReply(t, alice, room, bot, "Did we solve it?")
	if _, err := alice.SendReaction(t.Context(), room, question.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	// The 👍 is recorded as its transaction arrives.
	waitFor(t, 20*time.Second, "the 👍 recorded", func() (bool, string) {
		facts, err := s.bridge.DB.Fact.Room(t.Context(), room, 50)
		for _, f := range facts {
			if f.Kind == database.FactCSAT && f.Detail == "up" {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(facts), err)
	})
	return s, room, agent, alice
}

// scriptedPeople is what the customer and the agent said in the scripted
// conversation, as peopleRows shows an export.
const scriptedPeople = "customer: Hello, I was charged twice | agent: Sorry about that, let me look"

// peopleRows is what people said in a CSV export (header first), in order.
func peopleRows(rows [][]string) string {
	var said []string
	for _, r := range rows[1:] {
		if r[3] == "customer" || r[3] == "agent" {
			said = append(said, r[3]+": "+r[5])
		}
	}
	return strings.Join(said, " | ")
}

// The scripted conversation shows in the dashboard's inbox and figures,
// and its transcript exports with the right rows.
func TestDashboardInboxInsightsAndExport(t *testing.T) {
	s, room, agent, alice := scriptedConversation(t, enablePanel)
	base := s.cfg.AppService.Address
	token := dashboardSession(t, s, agent)
	type inboxRow struct {
		RoomID               id.RoomID `json:"room_id"`
		CustomerID           string    `json:"customer_id"`
		State                string    `json:"state"`
		LastMessageBy        string    `json:"last_message_by"`
		WaitingSince         *string   `json:"waiting_since"`
		FirstResponseSeconds *float64  `json:"first_response_seconds"`
	}
	var inbox struct {
		Conversations []inboxRow `json:"conversations"`
	}
	waitFor(t, 20*time.Second, "the resolved conversation in the inbox", func() (bool, string) {
		status, body := dashboardGet(t, base, "/dashboard/api/inbox?q=alice@example", token)
		_ = json.Unmarshal(body, &inbox)
		return status == http.StatusOK && len(inbox.Conversations) == 1 && inbox.Conversations[0].State == "resolved", string(body)
	})
	row := inbox.Conversations[0]
	if row.RoomID != room || row.LastMessageBy != "agent" || row.WaitingSince != nil || row.FirstResponseSeconds == nil || *row.FirstResponseSeconds < 1 {
		t.Errorf("inbox row %+v", row)
	}
	if status, body := dashboardGet(t, base, "/dashboard/api/inbox?state=open", token); status != http.StatusOK || strings.Contains(string(body), string(room)) {
		t.Errorf("state filter: %d %s", status, body)
	}

	var report struct {
		Conversations int `json:"conversations"`
		FirstResponse struct {
			Count int `json:"count"`
		} `json:"first_response"`
		Resolution struct {
			Count int `json:"count"`
		} `json:"resolution"`
		Writes []struct {
			Command string `json:"command"`
			Count   int    `json:"count"`
			Amounts []struct {
				Formatted string `json:"formatted"`
			} `json:"amounts"`
		} `json:"writes"`
		CSAT struct {
			Asked int      `json:"asked"`
			Up    int      `json:"up"`
			Down  int      `json:"down"`
			Score *float64 `json:"score"`
		} `json:"csat"`
		Charts map[string]string `json:"charts"`
	}
	status, body := dashboardGet(t, base, "/dashboard/api/insights?account=main", token)
	if err := json.Unmarshal(body, &report); status != http.StatusOK || err != nil {
		t.Fatalf("insights: %d %s", status, body)
	}
	if report.Conversations != 1 || report.FirstResponse.Count != 1 || report.Resolution.Count != 1 || report.CSAT.Asked != 1 ||
		report.CSAT.Score == nil || *report.CSAT.Score != 1 {
		t.Errorf("insights %+v", report)
	}
	if len(report.Writes) != 1 || report.Writes[0].Command != "refund" || report.Writes[0].Count != 1 ||
		len(report.Writes[0].Amounts) != 1 || report.Writes[0].Amounts[0].Formatted != "$12.50" {
		t.Errorf("writes %+v", report.Writes)
	}
	// The customer changes their mind with a lone 👎 in the chat (what the
	// web chat's button sends): the answer, not a new conversation, and
	// nothing for the assistant to answer.
	thumbsDown, err := alice.SendText(t.Context(), room, "👎")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the changed answer in the figures", func() (bool, string) {
		_, body := dashboardGet(t, base, "/dashboard/api/insights?account=main", token)
		_ = json.Unmarshal(body, &report)
		return report.CSAT.Down == 1, string(body)
	})
	if report.CSAT.Up != 0 || report.CSAT.Asked != 1 || report.CSAT.Score == nil || *report.CSAT.Score != 0 || report.Conversations != 1 {
		t.Errorf("after the 👎: %+v", report)
	}
	// The assistant records an answer or handoff keyed by the message it
	// answers; counting room messages instead races the refund's own
	// billing notice, which may still be arriving on a loaded machine.
	time.Sleep(2 * time.Second)
	facts, err := s.bridge.DB.Fact.Room(t.Context(), room, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range facts {
		if f.EventID == thumbsDown.EventID && (f.Kind == database.FactAnswer || f.Kind == database.FactHandoff) {
			t.Errorf("the 👎 got an answer: %+v", f)
		}
	}
	if status, svg := dashboardGet(t, base, report.Charts["per_day"], token); status != http.StatusOK || !strings.Contains(string(svg), "<svg") || !strings.Contains(string(svg), `class="bar"`) {
		t.Errorf("chart: %d %.200s", status, svg)
	}

	transcript := "/dashboard/api/rooms/" + url.PathEscape(room.String()) + "/transcript"
	status, raw := dashboardGet(t, base, transcript+".csv", token)
	if status != http.StatusOK {
		t.Fatalf("csv export: %d %s", status, raw)
	}
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := peopleRows(rows); !strings.HasPrefix(got, scriptedPeople) {
		t.Errorf("csv rows by people: %q", got)
	}
	if rows[0][0] != "time" || !strings.Contains(string(raw), "Did we solve it?") {
		t.Errorf("csv header %v, or the bot's question missing", rows[0])
	}
	if status, page := dashboardGet(t, base, transcript+".html", token); status != http.StatusOK || !strings.Contains(string(page), "Hello, I was charged twice") {
		t.Errorf("printable transcript: %d", status)
	}
	var exported struct {
		Entries []struct {
			Role string `json:"role"`
			Kind string `json:"kind"`
		} `json:"entries"`
	}
	// Both read the room as it is when asked: a message that lands between
	// the two reads (a billing notice on a loaded machine) is in one only,
	// so they are compared when the room holds still.
	waitFor(t, 20*time.Second, "the JSON and CSV exports to hold the same entries", func() (bool, string) {
		_, raw = dashboardGet(t, base, transcript+".json", token)
		exported.Entries = nil
		if err := json.Unmarshal(raw, &exported); err != nil {
			return false, err.Error()
		}
		_, rawCSV := dashboardGet(t, base, transcript+".csv", token)
		rows, err := csv.NewReader(strings.NewReader(string(rawCSV))).ReadAll()
		if err != nil {
			return false, err.Error()
		}
		return len(exported.Entries) == len(rows)-1, fmt.Sprintf("%d entries vs %d csv rows", len(exported.Entries), len(rows)-1)
	})
	// Neither a customer nor a stranger reads it.
	if status, _ := dashboardGet(t, base, "/dashboard/api/inbox", "forged"); status != http.StatusUnauthorized {
		t.Errorf("inbox without a session: %d", status)
	}
}

// A support lead reads the dashboard in a browser: the inbox row, the
// figures, and a transcript export fetched with the tab's session cookie.
func TestDashboardInBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	s, room, agent, _ := scriptedConversation(t, func(cfg *config.Config) {
		enablePanel(cfg)
		cfg.Panel.PublicURL = cfg.AppService.Address
	})
	base := s.cfg.AppService.Address
	tab := browser.NewTab(t, base)
	tab.Timeout = browserWait
	tab.Navigate(base + "/dashboard/#link=" + dashboardLink(t, s, agent))
	tab.WaitPage("the inbox row", `var r = document.querySelector('tr.conversation[data-room-id="`+room.String()+`"]');
		return r && r.innerText.includes('Alice Example') && r.innerText.toLowerCase().includes('resolved');`)
	if got := tab.Page(`return location.hash;`); strings.Contains(got, "link=") {
		t.Errorf("the link's token stayed in the address: %q", got)
	}
	tab.Page(`location.hash = '#insights'; return '';`)
	tab.WaitPage("the figures", `return document.getElementById('insights-conversations').textContent.trim() === '1' &&
		document.getElementById('csat-score').textContent.includes('100%') &&
		document.getElementById('writes').textContent.includes('$12.50');`)
	tab.WaitPage("the chart", `var i = document.getElementById('chart-per-day'); return i && i.complete && i.naturalWidth > 0;`)
	tab.Page(`location.hash = '#transcript=' + encodeURIComponent('` + room.String() + `'); return '';`)
	tab.WaitPage("the transcript", `return document.body.innerText.includes('Hello, I was charged twice');`)
	tab.Page(`window.__csv = null; fetch(document.getElementById('export-csv').href, {credentials: 'same-origin'}).then((r) => r.text()).then((t) => { window.__csv = t; }); return '';`)
	tab.WaitPage("the CSV export", `return typeof window.__csv === 'string';`)
	rows, err := csv.NewReader(strings.NewReader(tab.Page(`return window.__csv;`))).ReadAll()
	if err != nil || len(rows) < 3 || rows[0][0] != "time" {
		t.Fatalf("csv %v %v", rows, err)
	}
	if got := peopleRows(rows); !strings.HasPrefix(got, scriptedPeople) {
		t.Errorf("exported rows by people: %q", got)
	}
	if v := tab.CSPViolations(false); v != "" {
		t.Errorf("CSP violations: %s", v)
	}
}

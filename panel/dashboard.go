package panel

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/insights"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// DashboardPrefix is where the support dashboard is served.
const DashboardPrefix = "/dashboard/"

// dashboardCSP is the panel's policy without framing: the dashboard is a
// page of its own, and no other site may put it in a frame.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var dashboardAssets = map[string]string{
	"dashboard.js":  "text/javascript; charset=utf-8",
	"dashboard.css": "text/css; charset=utf-8",
}

// factHorizon is how far back the dashboard reads facts: the inbox needs
// each room's open conversation from its start, insights a period's
// conversations from theirs.
const factHorizon = 90 * 24 * time.Hour

// maxPeriod bounds an insights period.
const maxPeriod = 366 * 24 * time.Hour

// ServeDashboard answers under DashboardPrefix.
func (s *Server) ServeDashboard(w http.ResponseWriter, r *http.Request) {
	defer s.recoverPanic(w, r)
	s.commonHeaders(w)
	path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(DashboardPrefix, "/"))
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "bad_request", "The dashboard only reads.")
		return
	}
	switch {
	case path == "/":
		s.serveAsset(w, "dashboard.html", "text/html; charset=utf-8", dashboardCSP)
		return
	case strings.HasPrefix(path, "/assets/"):
		name := strings.TrimPrefix(path, "/assets/")
		if typ, ok := dashboardAssets[name]; ok {
			s.serveAsset(w, name, typ, dashboardCSP)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "No such page.")
		return
	case !strings.HasPrefix(path, "/api/"):
		writeError(w, http.StatusNotFound, "not_found", "No such page.")
		return
	}
	sess := s.authenticate(w, r)
	if sess == nil {
		return
	}
	api := strings.TrimPrefix(path, "/api")
	switch {
	case api == "/inbox":
		s.serveInbox(w, r)
	case api == "/insights":
		s.serveInsights(w, r)
	case api == "/charts/per_day.svg":
		s.serveChart(w, r)
	case strings.HasPrefix(api, "/rooms/"):
		s.serveTranscript(w, r, sess, strings.TrimPrefix(api, "/rooms/"))
	default:
		writeError(w, http.StatusNotFound, "not_found", "No such page.")
	}
}

type accountRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *Server) accounts() []accountRef {
	var out []accountRef
	for _, acct := range s.opts.Config.Stripe.Accounts {
		out = append(out, accountRef{ID: acct.Alias, Name: acct.DisplayName})
	}
	return out
}

type inboxConversation struct {
	AccountID            string     `json:"account_id"`
	AccountName          string     `json:"account_name"`
	CustomerID           string     `json:"customer_id"`
	Name                 string     `json:"name"`
	Email                string     `json:"email"`
	RoomID               id.RoomID  `json:"room_id"`
	State                string     `json:"state"`
	Assignee             id.UserID  `json:"assignee"`
	LastMessageAt        *time.Time `json:"last_message_at"`
	LastMessageBy        string     `json:"last_message_by"`
	WaitingSince         *time.Time `json:"waiting_since"`
	FirstResponseSeconds *float64   `json:"first_response_seconds"`
	Overdue              bool       `json:"overdue"`
	StripeURL            string     `json:"stripe_url"`
}

type inboxAnswer struct {
	ResponseTargetSeconds float64             `json:"response_target_seconds"`
	Accounts              []accountRef        `json:"accounts"`
	Assignees             []id.UserID         `json:"assignees"`
	Conversations         []inboxConversation `json:"conversations"`
}

// serveInbox lists every customer room with a conversation: the ones
// waiting longest first, then the most recent.
func (s *Server) serveInbox(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	account, state, assignee := q.Get("account"), q.Get("state"), q.Get("assignee")
	search := strings.ToLower(strings.TrimSpace(q.Get("q")))
	now := time.Now()
	target := s.opts.Config.Panel.ResponseTargetDuration()
	facts, err := s.opts.DB.Fact.Since(ctx, account, now.Add(-factHorizon))
	if err != nil {
		s.dbUnavailable(w, err)
		return
	}
	rows := insights.Inbox(facts, now, target)
	answer := inboxAnswer{ResponseTargetSeconds: target.Seconds(), Accounts: s.accounts(), Assignees: []id.UserID{}, Conversations: []inboxConversation{}}
	for _, acct := range s.opts.Config.Stripe.Accounts {
		if account != "" && acct.Alias != account {
			continue
		}
		portals, err := s.opts.DB.Portal.ListByAccount(ctx, acct.Alias)
		if err != nil {
			s.dbUnavailable(w, err)
			return
		}
		for _, p := range portals {
			if p.AssignedAgent != "" && !slices.Contains(answer.Assignees, p.AssignedAgent) {
				answer.Assignees = append(answer.Assignees, p.AssignedAgent)
			}
			row := rows[p.RoomID]
			if p.RoomID == "" || row == nil || !matchesInbox(p, state, assignee, search) {
				continue
			}
			answer.Conversations = append(answer.Conversations, inboxConversation{
				AccountID: acct.Alias, AccountName: acct.DisplayName, CustomerID: p.CustomerID, Name: p.Name, Email: p.Email,
				RoomID: p.RoomID, State: string(p.ConversationState), Assignee: p.AssignedAgent,
				LastMessageAt: row.LastMessageAt, LastMessageBy: row.LastMessageBy, WaitingSince: row.WaitingSince,
				FirstResponseSeconds: row.FirstResponseSeconds, Overdue: row.Overdue,
				StripeURL: acct.DashboardLink("customers/" + p.CustomerID),
			})
		}
	}
	slices.Sort(answer.Assignees)
	slices.SortStableFunc(answer.Conversations, func(a, b inboxConversation) int {
		switch {
		case (a.WaitingSince != nil) != (b.WaitingSince != nil):
			if a.WaitingSince != nil {
				return -1
			}
			return 1
		case a.WaitingSince != nil:
			return a.WaitingSince.Compare(*b.WaitingSince)
		}
		return laterFirst(a.LastMessageAt, b.LastMessageAt)
	})
	writeJSON(w, http.StatusOK, answer)
}

func laterFirst(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return b.Compare(*a)
}

func matchesInbox(p *database.Portal, state, assignee, search string) bool {
	if state != "" && string(p.ConversationState) != state {
		return false
	}
	switch {
	case assignee == "none" && p.AssignedAgent != "":
		return false
	case assignee != "" && assignee != "none" && string(p.AssignedAgent) != assignee:
		return false
	}
	if search == "" {
		return true
	}
	for _, field := range []string{p.Name, p.Email, p.CustomerID} {
		if strings.Contains(strings.ToLower(field), search) {
			return true
		}
	}
	return false
}

// period reads from (inclusive) and to (exclusive) as UTC dates; the
// default is the last 30 days, today included.
func period(q url.Values) (insights.Period, bool) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	p := insights.Period{From: today.AddDate(0, 0, -29), To: today.AddDate(0, 0, 1)}
	for key, into := range map[string]*time.Time{"from": &p.From, "to": &p.To} {
		if v := q.Get(key); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return p, false
			}
			*into = t
		}
	}
	return p, p.From.Before(p.To) && p.To.Sub(p.From) <= maxPeriod
}

type writeAmount struct {
	insights.Amount
	Formatted string `json:"formatted"`
}

type writeStat struct {
	Command string        `json:"command"`
	Count   int           `json:"count"`
	Amounts []writeAmount `json:"amounts"`
}

type insightsAnswer struct {
	*insights.Report
	Writes   []writeStat       `json:"writes"`
	Charts   map[string]string `json:"charts"`
	Accounts []accountRef      `json:"accounts"`
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) (*insights.Report, bool) {
	q := r.URL.Query()
	p, ok := period(q)
	if !ok {
		writeError(w, http.StatusBadRequest, "bad_request", "The period must be from and to dates (YYYY-MM-DD), from before to, at most a year.")
		return nil, false
	}
	facts, err := s.opts.DB.Fact.Since(r.Context(), q.Get("account"), p.From.Add(-factHorizon))
	if err != nil {
		s.dbUnavailable(w, err)
		return nil, false
	}
	return insights.Compute(facts, p), true
}

func (s *Server) serveInsights(w http.ResponseWriter, r *http.Request) {
	report, ok := s.report(w, r)
	if !ok {
		return
	}
	answer := insightsAnswer{Report: report, Writes: []writeStat{}, Accounts: s.accounts()}
	for _, ws := range report.Writes {
		out := writeStat{Command: ws.Command, Count: ws.Count, Amounts: []writeAmount{}}
		for _, a := range ws.Amounts {
			out.Amounts = append(out.Amounts, writeAmount{Amount: a, Formatted: stripeapi.FormatAmount(a.Amount, a.Currency)})
		}
		answer.Writes = append(answer.Writes, out)
	}
	chart := url.Values{"from": {report.From}, "to": {report.To}}
	if account := r.URL.Query().Get("account"); account != "" {
		chart.Set("account", account)
	}
	answer.Charts = map[string]string{"per_day": DashboardPrefix + "api/charts/per_day.svg?" + chart.Encode()}
	writeJSON(w, http.StatusOK, answer)
}

// serveChart draws conversations per day as SVG, an image of the page's
// own origin: no script, nothing fetched.
func (s *Server) serveChart(w http.ResponseWriter, r *http.Request) {
	report, ok := s.report(w, r)
	if !ok {
		return
	}
	labels := make([]string, len(report.PerDay))
	values := make([]float64, len(report.PerDay))
	for i, d := range report.PerDay {
		labels[i], values[i] = d.Date[5:], float64(d.Count)
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	_, _ = w.Write(insights.BarChart("Conversations per day", labels, values))
}

// roleWord is how the transcript names a sender's part.
func roleWord(role config.Role) string {
	switch {
	case role.AtLeast(config.RoleAgent):
		return database.RoleAgent
	case role == config.RoleCustomer:
		return database.RoleCustomer
	}
	return "other"
}

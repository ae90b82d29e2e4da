package commands

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestManagementCommands(t *testing.T) {
	env := newRefundEnv(t)
	env.proc.deps.Inbox = &fakeInbox{}
	var opened []string
	env.proc.deps.OpenRoom = func(_ context.Context, alias, customerID string, user id.UserID) (*database.Portal, error) {
		opened = append(opened, alias+"/"+customerID+"/"+string(user))
		return &database.Portal{AccountID: alias, CustomerID: customerID, Name: "Alice Example", RoomID: "!alice:example.com"}, nil
	}
	run := func(body string) string {
		t.Helper()
		env.clock = env.clock.Add(commandRefill) // stay under the rate limit
		before := len(env.rec.replies())
		env.proc.Handle(context.Background(), message(mgmtRoom, agent, body))
		replies := env.rec.replies()
		if len(replies) == before {
			t.Fatalf("no reply to %q", body)
		}
		return replies[len(replies)-1].Body
	}

	if got := run("search Alice"); !strings.Contains(got, "cus_alice") || strings.Contains(got, "cus_other") {
		t.Errorf("search by name: %q", got)
	}
	if got := run("search nobody-matches-this"); !strings.Contains(got, "No customer matches") {
		t.Errorf("empty search: %q", got)
	}
	if got := run("search"); !strings.Contains(got, "Usage") {
		t.Errorf("search without query: %q", got)
	}
	if got := run("open cus_alice"); !strings.Contains(got, "Invited you") || len(opened) != 1 || opened[0] != "main/cus_alice/"+string(agent) {
		t.Errorf("open: %q, opened %v", got, opened)
	}
	if got := run("open cus_missing"); !strings.Contains(got, "No customer matches") {
		t.Errorf("open of a missing customer: %q", got)
	}
	if got := run("accounts"); !strings.Contains(got, "main") || !strings.Contains(got, "test mode") {
		t.Errorf("accounts: %q", got)
	}
	if got := run("audit"); !strings.Contains(got, "Nothing in the audit log") {
		t.Errorf("empty audit: %q", got)
	}
	env.run(t, agent, "$refund", "!stripe refund "+env.charge)
	if got := run("audit cus_alice 5"); !strings.Contains(got, "refund") || !strings.Contains(got, "confirm_requested") {
		t.Errorf("audit after a refund request: %q", got)
	}
	if got := run("audit cus_alice lots"); !strings.Contains(got, "Usage") {
		t.Errorf("bad audit count: %q", got)
	}
	// Outside the management room these are refused.
	env.clock = env.clock.Add(commandRefill)
	env.proc.Handle(context.Background(), message(otherRoom, agent, "!stripe search Alice"))
	if last := env.rec.replies()[len(env.rec.replies())-1]; !strings.Contains(last.Body, "management room") {
		t.Errorf("search outside the management room: %q", last.Body)
	}
}

func TestAssistantSwitch(t *testing.T) {
	env := newRefundEnv(t)
	var states []bool
	env.proc.deps.SetAssistant = func(_ context.Context, acct, cus string, on bool) error {
		if acct != "main" || cus != "cus_alice" {
			t.Errorf("switched %s/%s", acct, cus)
		}
		states = append(states, on)
		return nil
	}
	for i, c := range []struct{ body, want string }{
		{"!stripe assistant off", "is off"},
		{"!stripe assistant on", "again"},
		{"!stripe assistant maybe", "Usage"},
	} {
		env.clock = env.clock.Add(commandRefill)
		got := env.run(t, agent, id.EventID("$as"+string(rune('a'+i))), c.body)
		if got == nil || !strings.Contains(got.Body, c.want) {
			t.Errorf("%q: %+v", c.body, got)
		}
	}
	if len(states) != 2 || states[0] || !states[1] {
		t.Errorf("switch calls %v", states)
	}
	env.clock = env.clock.Add(commandRefill)
	if got := env.run(t, customer, "$as-cust", "!stripe assistant off"); got == nil || !strings.Contains(got.Body, "permission") {
		t.Errorf("customer switched the assistant: %+v", got)
	}
}

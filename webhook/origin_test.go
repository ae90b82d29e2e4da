package webhook

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/matrix-stripe/matrix-stripe/database"
)

const (
	ownStripeID     = "acct_1OwnAccount000"
	foreignStripeID = "acct_1SomeoneElse00"
)

// ingestOrigin sends validly signed events that do or do not belong to the
// account: only those of the account's mode, and of the platform itself or
// the account's own id, reach the inbox.
func ingestOrigin(t *testing.T, db *database.Database) {
	cases := []struct {
		name         string
		live         bool   // the account's configured mode
		ownID        string // known own acct_ id, "" while not learned
		livemode     string // the event's livemode, raw JSON; "" leaves it out
		account      string // the event's account, raw JSON; "" leaves it out
		want         int
		reason       error
		logsIncluded []string
	}{
		{name: "platform event, test mode", livemode: "false", want: http.StatusOK},
		{name: "platform event, own id known", ownID: ownStripeID, livemode: "false", want: http.StatusOK},
		{name: "platform event, live mode", live: true, livemode: "true", want: http.StatusOK},
		{name: "account null is the platform", ownID: ownStripeID, livemode: "false", account: "null", want: http.StatusOK},
		{name: "own account id", ownID: ownStripeID, livemode: "false", account: fmt.Sprintf("%q", ownStripeID), want: http.StatusOK},

		{name: "live event at a test account", livemode: "true", want: http.StatusBadRequest, reason: errWrongMode,
			logsIncluded: []string{`"event_livemode":true`, `"livemode":false`}},
		{name: "test event at a live account", live: true, livemode: "false", want: http.StatusBadRequest, reason: errWrongMode,
			logsIncluded: []string{`"event_livemode":false`, `"livemode":true`}},
		{name: "no livemode", want: http.StatusBadRequest, reason: errNoLivemode},
		{name: "livemode null", livemode: "null", want: http.StatusBadRequest, reason: errNoLivemode},
		{name: "livemode not a boolean", livemode: `"false"`, want: http.StatusBadRequest,
			logsIncluded: []string{"malformed livemode or account"}},
		{name: "foreign connected account", ownID: ownStripeID, livemode: "false", account: fmt.Sprintf("%q", foreignStripeID),
			want: http.StatusBadRequest, reason: errForeignAccount,
			logsIncluded: []string{`"connected_account_id":"` + foreignStripeID + `"`, `"stripe_account_id":"` + ownStripeID + `"`}},
		{name: "foreign account in the wrong mode", ownID: ownStripeID, livemode: "true", account: fmt.Sprintf("%q", foreignStripeID),
			want: http.StatusBadRequest, reason: errWrongMode},
		{name: "empty account", ownID: ownStripeID, livemode: "false", account: `""`, want: http.StatusBadRequest, reason: errForeignAccount},
		{name: "account not a string", ownID: ownStripeID, livemode: "false", account: `{"id":"` + ownStripeID + `"}`, want: http.StatusBadRequest,
			logsIncluded: []string{"malformed livemode or account"}},
		// Stripe retries a 503; the own id is known by the retry.
		{name: "any account while own id unknown", livemode: "false", account: fmt.Sprintf("%q", foreignStripeID),
			want: http.StatusServiceUnavailable, reason: errOwnIDUnknown},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newDBFixture(t, db, Account{Alias: testAccount, Secrets: []string{testSecret}, Livemode: tc.live, StripeID: tc.ownID})
			id := fmt.Sprintf("evt_origin_%d", i)
			expectStatus(t, f.deliver(eventFrom(id, tc.livemode, tc.account)), tc.want)
			if tc.want == http.StatusOK {
				if f.rows(id) != 1 || len(f.notifications()) != 1 {
					t.Fatal("accepted but not stored and announced")
				}
				if strings.Contains(f.logs.String(), `"level":"warn"`) {
					t.Errorf("warning for an accepted event:\n%s", f.logs)
				}
				return
			}
			if f.rows(id) != 0 || len(f.notifications()) != 0 {
				t.Fatal("a refused event was stored or announced")
			}
			logs := f.logs.String()
			want := append([]string{`"level":"warn"`, `"stripe_event_id":"` + id + `"`, `"account":"` + testAccount + `"`}, tc.logsIncluded...)
			if tc.reason != nil {
				want = append(want, `"reason":"`+tc.reason.Error()+`"`)
			}
			for _, w := range want {
				if !strings.Contains(logs, w) {
					t.Errorf("log lacks %s:\n%s", w, logs)
				}
			}
		})
	}
}

// ingestOwnIDLearned is the bridge's start: the listener is up before the
// account check has told the handler its own id. Events naming the account
// are deferred until then and accepted after, while requests keep coming
// (run with -race to check the hand-over).
func ingestOwnIDLearned(t *testing.T, db *database.Database) {
	f := newDBFixture(t, db)
	own := fmt.Sprintf("%q", ownStripeID)
	expectStatus(t, f.deliver(eventFrom("evt_learn_early", "false", own)), http.StatusServiceUnavailable)

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			// Either answer is right while the id is being set; only a
			// stored event must have been answered 200.
			id := fmt.Sprintf("evt_learn_concurrent_%d", i)
			rec := f.deliver(eventFrom(id, "false", own))
			if rec.Code != http.StatusOK && rec.Code != http.StatusServiceUnavailable {
				t.Errorf("%s: status %d", id, rec.Code)
			}
		})
	}
	if err := f.handler.SetStripeAccountID(testAccount, ownStripeID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	expectStatus(t, f.deliver(eventFrom("evt_learn_early", "false", own)), http.StatusOK)
	if f.rows("evt_learn_early") != 1 {
		t.Fatal("the retried event was not stored")
	}
	expectStatus(t, f.deliver(eventFrom("evt_learn_foreign", "false", fmt.Sprintf("%q", foreignStripeID))), http.StatusBadRequest)
	if f.rows("evt_learn_foreign") != 0 {
		t.Fatal("a foreign account's event was stored")
	}
}

func TestSetStripeAccountIDRefusesNonsense(t *testing.T) {
	f := newFixture(t, failingInbox{})
	if err := f.handler.SetStripeAccountID("nobody", ownStripeID); err == nil {
		t.Error("accepted an id for an alias the handler does not serve")
	}
	if err := f.handler.SetStripeAccountID(testAccount, ""); err == nil {
		t.Error("accepted an empty id")
	}
	// Neither call may have given the account an own id.
	expectStatus(t, f.deliver(eventFrom("evt_nonsense", "false", `""`)), http.StatusServiceUnavailable)
	if !strings.Contains(f.logs.String(), errOwnIDUnknown.Error()) {
		t.Errorf("want the event deferred for want of the own id:\n%s", f.logs)
	}
}

package insights_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/insights"
)

func week() insights.Period {
	from, to := days(7)
	return insights.Period{From: from, To: to}
}

func TestConversationSegmentation(t *testing.T) {
	var h history
	// Room a: one conversation, resolved, reopened by the agent when the
	// customer came back, resolved again; then a new one, since the last
	// resolution stood.
	h.customer("a", 0)
	h.agent("a", 5)
	h.state("a", 10, "resolved")
	h.state("a", 20, "open")
	h.customer("a", 21)
	h.agent("a", 25)
	h.state("a", 30, "resolved")
	h.customer("a", 40)
	h.customer("a", 41)
	// Room b: an agent speaking first starts nothing; the customer does.
	h.agent("b", 1)
	h.state("b", 2, "open")
	h.customer("b", 3)

	for _, tc := range []struct {
		name   string
		period insights.Period
		want   int
	}{
		{"the whole week", week(), 3},
		// The customer's message at 21 continues the reopened conversation
		// that began at 0, so it starts none.
		{"from minute 15: only the one started at 40", insights.Period{From: at(15), To: at(60)}, 1},
		{"the agent's first words in b start nothing", insights.Period{From: at(1), To: at(2.5)}, 0},
		{"b's customer does", insights.Period{From: at(1), To: at(5)}, 1},
		{"To is exclusive", insights.Period{From: at(1), To: at(40)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := insights.Compute(h.facts, tc.period).Conversations; got != tc.want {
				t.Errorf("%d conversations, want %d", got, tc.want)
			}
		})
	}
	t.Run("the reopened conversation resolves once, at its final resolution", func(t *testing.T) {
		res := insights.Compute(h.facts, week()).Resolution
		if res.Count != 1 || show(res.MedianSeconds) != 1800.0 {
			t.Errorf("resolution %d, median %v; want 1 at 1800s", res.Count, show(res.MedianSeconds))
		}
	})
}

func TestFirstResponse(t *testing.T) {
	var h history
	// a: the assistant answers at once, an agent after ten minutes.
	h.customer("a", 0)
	h.answer("a", 0.5, "invoice")
	h.agent("a", 10)
	// b: the assistant answered and the room was resolved: no agent, no
	// first response.
	h.customer("b", 0)
	h.answer("b", 1, "invoice")
	h.state("b", 2, "resolved")
	// c: an agent after two minutes; the later agent message is not first.
	h.customer("c", 0)
	h.agent("c", 2)
	h.agent("c", 3)
	// d: resolved without a word, reopened, then answered by an agent:
	// measured from the conversation's start.
	h.customer("d", 0)
	h.state("d", 1, "resolved")
	h.state("d", 4, "open")
	h.agent("d", 6)

	got := insights.Compute(h.facts, week()).FirstResponse
	want := insights.Duration{Count: 3, MedianSeconds: ptr(360.0), P90Seconds: ptr(600.0)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("first response %d, median %v, p90 %v; want %d, %v, %v",
			got.Count, show(got.MedianSeconds), show(got.P90Seconds), want.Count, show(want.MedianSeconds), show(want.P90Seconds))
	}
}

func TestResolution(t *testing.T) {
	var h history
	h.customer("a", 0)
	h.state("a", 30, "resolved")
	// b is never resolved: left out.
	h.customer("b", 0)
	h.agent("b", 1)
	// c: resolved, reopened, resolved again at 90; a second "resolved"
	// without a reopen changes nothing.
	h.customer("c", 0)
	h.state("c", 10, "resolved")
	h.state("c", 20, "open")
	h.state("c", 90, "resolved")
	h.state("c", 95, "resolved")
	// d: reopened and not resolved again: unresolved.
	h.customer("d", 0)
	h.state("d", 5, "resolved")
	h.state("d", 6, "open")
	// "waiting" is no resolution.
	h.customer("e", 0)
	h.state("e", 3, "waiting")

	got := insights.Compute(h.facts, week()).Resolution
	want := insights.Duration{Count: 2, MedianSeconds: ptr(1800.0), P90Seconds: ptr(5400.0)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolution %d, median %v, p90 %v; want %d, %v, %v",
			got.Count, show(got.MedianSeconds), show(got.P90Seconds), want.Count, show(want.MedianSeconds), show(want.P90Seconds))
	}
}

// Nearest rank: the value at position ceil(p·n) of the sorted list.
func TestMedianAndP90(t *testing.T) {
	for _, tc := range []struct {
		name        string
		seconds     []int
		median, p90 *float64
		wantCount   int
	}{
		{"1..10", []int{7, 3, 10, 1, 5, 9, 2, 8, 4, 6}, ptr(5.0), ptr(9.0), 10},
		{"1..20", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, ptr(10.0), ptr(18.0), 20},
		{"three", []int{30, 10, 20}, ptr(20.0), ptr(30.0), 3},
		{"one", []int{42}, ptr(42.0), ptr(42.0), 1},
		{"none", nil, nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h history
			for i, s := range tc.seconds {
				room := id.RoomID(fmt.Sprintf("r%d", i))
				h.customer(room, 0)
				h.agent(room, float64(s)/60)
			}
			got := insights.Compute(h.facts, week()).FirstResponse
			want := insights.Duration{Count: tc.wantCount, MedianSeconds: tc.median, P90Seconds: tc.p90}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("count %d, median %v, p90 %v; want %d, %v, %v",
					got.Count, show(got.MedianSeconds), show(got.P90Seconds), want.Count, show(want.MedianSeconds), show(want.P90Seconds))
			}
		})
	}
}

func TestPerDay(t *testing.T) {
	var h history
	h.customer("before", -10*60)    // Sunday 23:00: before the period
	h.customer("before", 1)         // continues Sunday's conversation
	h.customer("mon1", 0)           // Monday
	h.customer("mon2", 14*60+59)    // Monday 23:59
	h.customer("wed", 2*24*60)      // Wednesday
	h.customer("fri", 4*24*60-9*60) // Friday 00:00: To is exclusive
	from, to := days(4)             // Monday to Thursday
	report := insights.Compute(h.facts, insights.Period{From: from, To: to})

	want := []insights.DayCount{{"2026-03-02", 2}, {"2026-03-03", 0}, {"2026-03-04", 1}, {"2026-03-05", 0}}
	if !reflect.DeepEqual(report.PerDay, want) {
		t.Errorf("per day %v, want %v", report.PerDay, want)
	}
	if report.From != "2026-03-02" || report.To != "2026-03-06" || report.Conversations != 3 {
		t.Errorf("from %s to %s, %d conversations; want 2026-03-02 to 2026-03-06, 3", report.From, report.To, report.Conversations)
	}
}

func TestAssistant(t *testing.T) {
	var h history
	h.customer("a", 0)
	h.answer("a", 1, "invoice")
	h.answer("a", 2, "refund_status")
	h.answer("a", 3, "invoice")
	h.answer("a", 4, "plan")
	h.answer("a", 5, "card")
	h.handoff("a", 6, "refund_status")
	h.handoff("a", 7, "cancel")
	h.handoff("a", 8, "dunning")
	// Outside the period: not counted.
	h.answer("a", 7*24*60, "dunning")
	h.handoff("a", -10*60, "dunning") // Sunday

	got := insights.Compute(h.facts, week()).Assistant
	want := insights.Assistant{
		Answered: 5, HandedOff: 3,
		// Ties in count by name; "plan" is sixth.
		TopIntents: []insights.IntentCount{{"invoice", 2}, {"refund_status", 2}, {"cancel", 1}, {"card", 1}, {"dunning", 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("assistant %+v, want %+v", got, want)
	}
}

func TestWrites(t *testing.T) {
	var h history
	h.write("a", 1, "refund", 500, "eur")
	h.write("b", 2, "refund", 1000, "usd")
	h.write("a", 3, "refund", 300, "eur")
	h.write("a", 4, "cancel", 0, "")
	h.write("b", 5, "credit", 200, "usd")
	h.write("b", 7*24*60, "refund", 9999, "eur") // after the period

	got := insights.Compute(h.facts, week()).Writes
	want := []insights.WriteStat{
		{Command: "cancel", Count: 1, Amounts: []insights.Amount{}},
		{Command: "credit", Count: 1, Amounts: []insights.Amount{{"usd", 200}}},
		{Command: "refund", Count: 3, Amounts: []insights.Amount{{"eur", 800}, {"usd", 1000}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("writes %+v, want %+v", got, want)
	}
}

func TestCSAT(t *testing.T) {
	t.Run("latest answer per question", func(t *testing.T) {
		var h history
		h.csatAsked("a", 10, "$q1")
		h.csat("a", 11, "$q1", "$r1", "up")
		h.csat("a", 12, "$q1", "$r2", "down") // changed their mind: counts once, as 👎
		h.csatAsked("b", 10, "$q2")
		h.csat("b", 11, "$q2", "$r3", "up")
		h.csatAsked("c", 10, "$q3") // never answered
		// Asked before the period: neither the question nor its answer counts.
		h.csatAsked("d", -10*60, "$q0") // Sunday
		h.csat("d", 5, "$q0", "$r4", "down")
		// A reaction to no question is no answer.
		h.csat("d", 6, "$elsewhere", "$r5", "down")

		got := insights.Compute(h.facts, week()).CSAT
		want := insights.CSAT{Asked: 3, Up: 1, Down: 1, Score: ptr(0.5)}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("csat %+v (score %v), want %+v (score %v)", got, show(got.Score), want, show(want.Score))
		}
	})
	t.Run("no answers, no score", func(t *testing.T) {
		var h history
		h.csatAsked("a", 10, "$q1")
		got := insights.Compute(h.facts, week()).CSAT
		if got.Asked != 1 || got.Up+got.Down != 0 || got.Score != nil {
			t.Errorf("csat %+v (score %v), want 1 asked and no score", got, show(got.Score))
		}
	})
}

// An empty report encodes its lists as [], never null, and its missing
// figures as null.
func TestEmptyReportJSON(t *testing.T) {
	from, to := days(2)
	raw, err := json.Marshal(insights.Compute(nil, insights.Period{From: from, To: to}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"from":"2026-03-02","to":"2026-03-04","conversations":0,` +
		`"per_day":[{"date":"2026-03-02","count":0},{"date":"2026-03-03","count":0}],` +
		`"first_response":{"count":0,"median_seconds":null,"p90_seconds":null},` +
		`"resolution":{"count":0,"median_seconds":null,"p90_seconds":null},` +
		`"assistant":{"answered":0,"handed_off":0,"top_intents":[]},"writes":[],` +
		`"csat":{"asked":0,"up":0,"down":0,"score":null}}`
	if string(raw) != want {
		t.Errorf("JSON\n%s\nwant\n%s", raw, want)
	}
}

// Compute sorts the facts itself, by (At, ID), and leaves the caller's
// slice alone.
func TestComputeOrdersFacts(t *testing.T) {
	var h history
	h.customer("a", 0)
	h.agent("a", 4)
	h.state("a", 4, "resolved") // same time as the agent's message, later id
	reversed := make([]*database.Fact, len(h.facts))
	for i, f := range h.facts {
		reversed[len(h.facts)-1-i] = f
	}
	first := reversed[0]
	report := insights.Compute(reversed, week())
	if report.FirstResponse.Count != 1 || report.Resolution.Count != 1 {
		t.Errorf("first response %d, resolution %d; want 1 each", report.FirstResponse.Count, report.Resolution.Count)
	}
	if reversed[0] != first {
		t.Error("Compute reordered the caller's slice")
	}
}

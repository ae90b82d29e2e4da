// Package insights turns the conversation facts the bridge records into the
// support dashboard's figures.
//
// Everything here is a pure function of the facts it is given: no database
// access, no clock, no I/O. The definitions are those of docs/dashboard.md
// ("Metric definitions"); the tests hold one scripted history per metric.
package insights

import (
	"cmp"
	"slices"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// dateLayout is how days are written in reports: UTC dates.
const dateLayout = "2006-01-02"

// Period is the time span a report covers: [From, To).
type Period struct{ From, To time.Time }

func (p Period) contains(t time.Time) bool {
	return !t.Before(p.From) && t.Before(p.To)
}

// Duration summarises one kind of wait over the conversations that have it.
type Duration struct {
	// Count is how many conversations had the wait (the n of the median).
	Count         int      `json:"count"`
	MedianSeconds *float64 `json:"median_seconds"`
	P90Seconds    *float64 `json:"p90_seconds"`
}

// DayCount is the number of conversations that started on one UTC day.
type DayCount struct {
	Date  string `json:"date"` // 2006-01-02
	Count int    `json:"count"`
}

// IntentCount is how often the assistant met one intent.
type IntentCount struct {
	Intent string `json:"intent"`
	Count  int    `json:"count"`
}

// Amount is a sum of money in one currency, in minor units.
type Amount struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

// WriteStat is how often one write command succeeded, and the money it moved.
type WriteStat struct {
	Command string   `json:"command"`
	Count   int      `json:"count"`
	Amounts []Amount `json:"amounts"`
}

// Assistant is what the assistant did in the period.
type Assistant struct {
	Answered   int           `json:"answered"`
	HandedOff  int           `json:"handed_off"`
	TopIntents []IntentCount `json:"top_intents"`
}

// CSAT is how the customers asked "Did we solve it?" answered.
type CSAT struct {
	Asked int      `json:"asked"`
	Up    int      `json:"up"`
	Down  int      `json:"down"`
	Score *float64 `json:"score"`
}

// Report is the dashboard's figures for one period. Slices are never nil,
// so they encode as [] rather than null.
type Report struct {
	From          string      `json:"from"`
	To            string      `json:"to"` // dates, To exclusive
	Conversations int         `json:"conversations"`
	PerDay        []DayCount  `json:"per_day"`
	FirstResponse Duration    `json:"first_response"`
	Resolution    Duration    `json:"resolution"`
	Assistant     Assistant   `json:"assistant"`
	Writes        []WriteStat `json:"writes"`
	CSAT          CSAT        `json:"csat"`
}

// topIntents is how many intents Report.Assistant lists.
const topIntents = 5

// Compute works out the period's report. facts may start before the
// period: conversations that began earlier matter for segmentation (a
// customer message in the period may continue one of them). The period
// counts the conversations that start in it, and measures each to its
// first response and final resolution among the facts given, even when
// those come after the period ends.
func Compute(facts []*database.Fact, period Period) *Report {
	facts = ordered(facts)
	report := &Report{
		From:   period.From.UTC().Format(dateLayout),
		To:     period.To.UTC().Format(dateLayout),
		PerDay: []DayCount{},
		Writes: []WriteStat{},
	}

	perDay := make(map[string]int)
	var firstResponses, resolutions []float64
	for _, roomFacts := range byRoom(facts) {
		for _, conv := range segment(roomFacts) {
			if !period.contains(conv.start) {
				continue
			}
			report.Conversations++
			perDay[conv.start.UTC().Format(dateLayout)]++
			if !conv.firstResponse.IsZero() {
				firstResponses = append(firstResponses, conv.firstResponse.Sub(conv.start).Seconds())
			}
			if !conv.resolved.IsZero() {
				resolutions = append(resolutions, conv.resolved.Sub(conv.start).Seconds())
			}
		}
	}
	for _, day := range days(period) {
		report.PerDay = append(report.PerDay, DayCount{Date: day, Count: perDay[day]})
	}
	report.FirstResponse = summarise(firstResponses)
	report.Resolution = summarise(resolutions)

	var inPeriod []*database.Fact
	for _, f := range facts {
		if period.contains(f.At) {
			inPeriod = append(inPeriod, f)
		}
	}
	report.Assistant = assistant(inPeriod)
	report.Writes = writes(inPeriod)
	report.CSAT = csat(facts, period)
	return report
}

// conversation is one customer conversation in a room, as segment finds it.
// Zero times mean "not (yet)".
type conversation struct {
	start time.Time
	// The first agent message while it was open.
	firstResponse time.Time
	// The resolution that stands: a reopen clears it.
	resolved time.Time
	// The earliest customer message nobody has answered yet.
	waitingSince time.Time
}

func (c *conversation) open() bool { return c.resolved.IsZero() }

// segment splits one room's facts, in order, into its conversations: a
// customer message starts one when none is open; "resolved" ends it; "open"
// after a resolution reopens the same one. Facts outside an open
// conversation (an agent's message before any customer spoke, a second
// "resolved") change nothing.
func segment(facts []*database.Fact) []*conversation {
	var convs []*conversation
	var cur *conversation
	for _, f := range facts {
		switch f.Kind {
		case database.FactMessage:
			switch f.ActorRole {
			case database.RoleCustomer:
				if cur == nil || !cur.open() {
					cur = &conversation{start: f.At}
					convs = append(convs, cur)
				}
				if cur.waitingSince.IsZero() {
					cur.waitingSince = f.At
				}
			case database.RoleAgent:
				if cur != nil && cur.open() {
					if cur.firstResponse.IsZero() {
						cur.firstResponse = f.At
					}
					cur.waitingSince = time.Time{}
				}
			}
		case database.FactAnswer:
			// The assistant answered: nothing before it waits any longer,
			// but it is no first response. A handoff answers nothing.
			if cur != nil && cur.open() {
				cur.waitingSince = time.Time{}
			}
		case database.FactState:
			if cur == nil {
				break
			}
			switch f.Detail {
			case "resolved":
				if cur.open() {
					cur.resolved = f.At
					cur.waitingSince = time.Time{}
				}
			case "open":
				cur.resolved = time.Time{}
			}
		}
	}
	return convs
}

// ordered returns the facts sorted by (At, ID), leaving the caller's slice
// as it was.
func ordered(facts []*database.Fact) []*database.Fact {
	facts = slices.Clone(facts)
	slices.SortStableFunc(facts, func(a, b *database.Fact) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID))
	})
	return facts
}

// byRoom groups ordered facts by room, keeping their order.
func byRoom(facts []*database.Fact) map[id.RoomID][]*database.Fact {
	rooms := make(map[id.RoomID][]*database.Fact)
	for _, f := range facts {
		rooms[f.RoomID] = append(rooms[f.RoomID], f)
	}
	return rooms
}

// days lists the UTC dates the period touches, first to last.
func days(period Period) []string {
	var out []string
	from := period.From.UTC()
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	for ; day.Before(period.To); day = day.AddDate(0, 0, 1) {
		out = append(out, day.Format(dateLayout))
	}
	return out
}

// summarise gives the count, median and p90 of a list of seconds.
func summarise(seconds []float64) Duration {
	slices.Sort(seconds)
	return Duration{
		Count:         len(seconds),
		MedianSeconds: nearestRank(seconds, 50),
		P90Seconds:    nearestRank(seconds, 90),
	}
}

// nearestRank is the percentile of sorted values by the nearest-rank
// method: the value at position ceil(percent/100 · n), counting from 1.
// Integer arithmetic, so ceil(0.9 · 10) is 9 and not 10 by rounding.
func nearestRank(sorted []float64, percent int) *float64 {
	n := len(sorted)
	if n == 0 {
		return nil
	}
	rank := max((percent*n+99)/100, 1)
	value := sorted[rank-1]
	return &value
}

func assistant(facts []*database.Fact) Assistant {
	out := Assistant{TopIntents: []IntentCount{}}
	counts := make(map[string]int)
	for _, f := range facts {
		switch f.Kind {
		case database.FactAnswer:
			out.Answered++
		case database.FactHandoff:
			out.HandedOff++
		default:
			continue
		}
		if f.Detail != "" {
			counts[f.Detail]++
		}
	}
	for intent, count := range counts {
		out.TopIntents = append(out.TopIntents, IntentCount{Intent: intent, Count: count})
	}
	slices.SortFunc(out.TopIntents, func(a, b IntentCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Intent, b.Intent))
	})
	if len(out.TopIntents) > topIntents {
		out.TopIntents = out.TopIntents[:topIntents]
	}
	return out
}

func writes(facts []*database.Fact) []WriteStat {
	type sums struct {
		count   int
		amounts map[string]int64
	}
	byCommand := make(map[string]*sums)
	for _, f := range facts {
		if f.Kind != database.FactWrite {
			continue
		}
		s := byCommand[f.Detail]
		if s == nil {
			s = &sums{amounts: make(map[string]int64)}
			byCommand[f.Detail] = s
		}
		s.count++
		if f.Currency != "" {
			s.amounts[f.Currency] += f.Amount
		}
	}
	out := []WriteStat{}
	for command, s := range byCommand {
		stat := WriteStat{Command: command, Count: s.count, Amounts: []Amount{}}
		for currency, amount := range s.amounts {
			stat.Amounts = append(stat.Amounts, Amount{Currency: currency, Amount: amount})
		}
		slices.SortFunc(stat.Amounts, func(a, b Amount) int { return cmp.Compare(a.Currency, b.Currency) })
		out = append(out, stat)
	}
	slices.SortFunc(out, func(a, b WriteStat) int { return cmp.Compare(a.Command, b.Command) })
	return out
}

// csat counts the questions asked in the period and, for each, its latest
// answer before the period ends: a customer who changes 👍 to 👎 counts
// once, as 👎.
func csat(facts []*database.Fact, period Period) CSAT {
	var out CSAT
	asked := make(map[string]bool)
	for _, f := range facts {
		if f.Kind == database.FactCSATAsked && f.EventID != "" && period.contains(f.At) {
			asked[string(f.EventID)] = true
			out.Asked++
		}
	}
	latest := make(map[string]string)
	for _, f := range facts { // ordered, so the last one seen is the latest
		if f.Kind != database.FactCSAT || !asked[f.Ref] || !f.At.Before(period.To) {
			continue
		}
		if f.Detail == "up" || f.Detail == "down" {
			latest[f.Ref] = f.Detail
		}
	}
	for _, answer := range latest {
		if answer == "up" {
			out.Up++
		} else {
			out.Down++
		}
	}
	if answered := out.Up + out.Down; answered > 0 {
		score := float64(out.Up) / float64(answered)
		out.Score = &score
	}
	return out
}

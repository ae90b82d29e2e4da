package insights_test

import (
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// t0 is when every scripted history begins: a Monday, 09:00 UTC.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// at is t0 plus some minutes.
func at(minutes float64) time.Time {
	return t0.Add(time.Duration(minutes * float64(time.Minute)))
}

// history builds facts by hand, numbering them in the order they are added
// as the database would.
type history struct {
	facts []*database.Fact
}

func (h *history) add(room id.RoomID, minutes float64, kind database.FactKind, f database.Fact) *database.Fact {
	f.ID = int64(len(h.facts) + 1)
	f.AccountID, f.CustomerID, f.RoomID = "main", "cus_"+string(room), room
	f.At = at(minutes)
	f.Kind = kind
	h.facts = append(h.facts, &f)
	return &f
}

func (h *history) customer(room id.RoomID, minutes float64) {
	h.add(room, minutes, database.FactMessage, database.Fact{Actor: "@customer:example.org", ActorRole: database.RoleCustomer})
}

func (h *history) agent(room id.RoomID, minutes float64) {
	h.add(room, minutes, database.FactMessage, database.Fact{Actor: "@agent:example.org", ActorRole: database.RoleAgent})
}

func (h *history) bot(room id.RoomID, minutes float64) {
	h.add(room, minutes, database.FactMessage, database.Fact{Actor: "@stripe:example.org", ActorRole: database.RoleBot})
}

// answer records the assistant's reply: its message and that it answered.
func (h *history) answer(room id.RoomID, minutes float64, intent string) {
	h.add(room, minutes, database.FactMessage, database.Fact{Actor: "@assistant:example.org", ActorRole: database.RoleAssistant})
	h.add(room, minutes, database.FactAnswer, database.Fact{Detail: intent})
}

// handoff records the assistant's reply that hands the room to the agents.
func (h *history) handoff(room id.RoomID, minutes float64, intent string) {
	h.add(room, minutes, database.FactMessage, database.Fact{Actor: "@assistant:example.org", ActorRole: database.RoleAssistant})
	h.add(room, minutes, database.FactHandoff, database.Fact{Detail: intent})
}

func (h *history) state(room id.RoomID, minutes float64, state string) {
	h.add(room, minutes, database.FactState, database.Fact{Actor: "@agent:example.org", Detail: state})
}

func (h *history) write(room id.RoomID, minutes float64, command string, amount int64, currency string) {
	h.add(room, minutes, database.FactWrite, database.Fact{Actor: "@agent:example.org", Detail: command, Amount: amount, Currency: currency})
}

func (h *history) csatAsked(room id.RoomID, minutes float64, question id.EventID) {
	h.add(room, minutes, database.FactCSATAsked, database.Fact{EventID: question})
}

func (h *history) csat(room id.RoomID, minutes float64, question id.EventID, answer id.EventID, detail string) {
	h.add(room, minutes, database.FactCSAT, database.Fact{Detail: detail, Ref: string(question), EventID: answer})
}

// days is the period of whole UTC days from t0's date, n days long.
func days(n int) (from, to time.Time) {
	from = time.Date(t0.Year(), t0.Month(), t0.Day(), 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 0, n)
}

func ptr[T any](v T) *T { return &v }

// show prints an optional number for failure messages.
func show[T any](v *T) any {
	if v == nil {
		return "nil"
	}
	return *v
}

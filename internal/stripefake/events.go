package stripefake

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// event is a recorded Stripe event. The object is frozen as JSON when the
// event happens, as Stripe's data.object is a snapshot, not a live view.
type event struct {
	meta
	typ     string
	object  json.RawMessage
	prev    obj
	request *reqInfo
	// pendingWebhooks is how many endpoints it was queued for.
	pendingWebhooks int
}

// Event is a recorded event as tests see it.
type Event struct {
	ID      string
	Type    string
	Created time.Time
	// JSON is the event exactly as GET /v1/events/{id} returns it.
	JSON []byte
}

func eventRoutes() []route {
	return []route{
		{"GET", "/v1/events", listEvents},
		{"GET", "/v1/events/{id}", getEvent},
	}
}

// emit records an event about object and queues it for webhooks. prev is
// data.previous_attributes, only for *.updated events.
func (st *state) emit(typ string, object obj, prev obj) *event {
	raw, err := json.Marshal(object)
	if err != nil {
		panic(err) // object came from a render function: always encodable
	}
	ev := &event{meta: st.newMeta("evt_", 24), typ: typ, object: raw, prev: prev}
	if st.req != nil {
		r := *st.req
		ev.request = &r
	}
	st.events.add(ev)
	st.log.Debug().Str("stripe_event_id", ev.ID).Str("event_type", typ).Msg("Recorded event")
	if st.holding {
		st.held = append(st.held, ev)
		return ev
	}
	st.queueEvent(ev)
	return ev
}

// changed snapshots an object before a change. The returned func, called
// after the change, emits typ with previous_attributes if anything moved.
func (st *state) changed(typ string, render func() obj) func() {
	before := render()
	return func() {
		after := render()
		if d := diff(before, after); len(d) > 0 {
			st.emit(typ, after, d)
		}
	}
}

// releaseHeld delivers the events recorded while seeding, oldest first,
// when deliver is set; otherwise they are only kept for the Events API.
func (st *state) releaseHeld(deliver bool) {
	held := st.held
	st.held, st.holding = nil, false
	if !deliver {
		return
	}
	sort.SliceStable(held, func(i, j int) bool { return held[i].Created < held[j].Created })
	for _, ev := range held {
		st.queueEvent(ev)
	}
}

func (st *state) renderEvent(ev *event) obj {
	return st.renderEventVersion(ev, APIVersion)
}

func (st *state) renderEventVersion(ev *event, apiVersion string) obj {
	req := obj{"id": nil, "idempotency_key": nil}
	if ev.request != nil {
		req = obj{"id": ev.request.id, "idempotency_key": nullable(ev.request.idempotencyKey)}
	}
	data := obj{"object": ev.object}
	if ev.prev != nil {
		data["previous_attributes"] = ev.prev
	}
	return canon(obj{
		"id":               ev.ID,
		"object":           "event",
		"api_version":      apiVersion,
		"created":          ev.Created,
		"data":             data,
		"livemode":         st.account.Livemode,
		"pending_webhooks": ev.pendingWebhooks,
		"request":          req,
		"type":             ev.typ,
	})
}

// typeMatches applies Stripe's event type filter: exact, `*`, or `prefix.*`.
func typeMatches(pattern, typ string) bool {
	if pattern == "*" || pattern == typ {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, ".*"); ok {
		return strings.HasPrefix(typ, p+".")
	}
	return false
}

func listEvents(st *state, c *call) (any, *Error) {
	types := c.p.strs("types")
	if t := c.p.s("type"); t != "" {
		types = append(types, t)
	}
	created := createdFilter(c.p, "created")
	items := st.events.filter(func(ev *event) bool {
		if !created(ev.Created) {
			return false
		}
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if typeMatches(t, ev.typ) {
				return true
			}
		}
		return false
	})
	return listResponse(c, "/v1/events", "event", items, st.renderEvent)
}

func getEvent(st *state, c *call) (any, *Error) {
	ev, ok := st.events.get(c.v("id"))
	if !ok {
		return nil, errMissing("event", c.v("id"), "id")
	}
	return st.renderEvent(ev), nil
}

// Events returns every recorded event, oldest first.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.st.events.filter(nil)
	out := make([]Event, 0, len(evs))
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		raw, _ := json.Marshal(s.st.renderEvent(ev))
		out = append(out, Event{ID: ev.ID, Type: ev.typ, Created: time.Unix(ev.Created, 0), JSON: raw})
	}
	return out
}

package stripefake

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"sort"
	"time"

	"github.com/rs/zerolog"
)

// obj is a rendered Stripe object. Rendered objects are always canonical
// (see canon), so comparisons and expansion see one set of Go types.
type obj = map[string]any

// meta is what every stored object has.
type meta struct {
	ID       string
	Created  int64
	Metadata map[string]string
	// seq orders objects created within the same second, so lists keep
	// Stripe's newest-first order even with a frozen test clock.
	seq uint64
}

func (m *meta) base() *meta { return m }

type record interface{ base() *meta }

// table holds one kind of object by id.
type table[T record] struct {
	byID map[string]T
}

func newTable[T record]() table[T] { return table[T]{byID: map[string]T{}} }

func (t *table[T]) add(v T) { t.byID[v.base().ID] = v }

func (t *table[T]) get(id string) (T, bool) {
	v, ok := t.byID[id]
	return v, ok
}

func (t *table[T]) remove(id string) { delete(t.byID, id) }

// filter returns the objects keep accepts, newest first as Stripe lists them.
func (t *table[T]) filter(keep func(T) bool) []T {
	out := make([]T, 0, len(t.byID))
	for _, v := range t.byID {
		if keep == nil || keep(v) {
			out = append(out, v)
		}
	}
	sortNewestFirst(out)
	return out
}

func sortNewestFirst[T record](items []T) {
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i].base(), items[j].base()
		if a.Created != b.Created {
			return a.Created > b.Created
		}
		return a.seq > b.seq
	})
}

// reqInfo is the API request a change is made for; events carry it.
type reqInfo struct {
	id             string
	idempotencyKey string
}

// state is everything the fake knows. It is only touched with Server.mu held.
type state struct {
	log      zerolog.Logger
	clock    func() time.Time
	rng      *rand.Rand
	seq      uint64
	account  Account
	emitSeed bool

	// at replaces the clock while a scenario replays history.
	at time.Time
	// req is the API request being served, nil for changes made by the
	// fake itself (scenario seeding, control methods, renewals).
	req *reqInfo
	// held collects events while seeding so they can be delivered in time
	// order once the whole scenario is loaded.
	holding bool
	held    []*event
	// hooks delivers recorded events to webhook endpoints.
	hooks *delivery

	customers      table[*customer]
	paymentMethods table[*paymentMethod]
	products       table[*product]
	prices         table[*price]
	coupons        table[*coupon]
	subscriptions  table[*subscription]
	invoices       table[*invoice]
	charges        table[*charge]
	paymentIntents table[*paymentIntent]
	refunds        table[*refund]
	disputes       table[*dispute]
	balanceTxns    table[*balanceTxn]
	portalSessions table[*portalSession]
	events         table[*event]
	endpoints      table[*endpoint]
	idem           idempotencyStore
}

func newState(opts Options, log zerolog.Logger) *state {
	seed1, seed2 := opts.Seed, opts.Seed^0x9e3779b97f4a7c15
	if opts.Seed == 0 {
		seed1, seed2 = rand.Uint64(), rand.Uint64()
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	return &state{
		log:            log,
		clock:          clock,
		rng:            rand.New(rand.NewPCG(seed1, seed2)),
		account:        opts.Account.withDefaults(),
		emitSeed:       opts.EmitSeedEvents,
		customers:      newTable[*customer](),
		paymentMethods: newTable[*paymentMethod](),
		products:       newTable[*product](),
		prices:         newTable[*price](),
		coupons:        newTable[*coupon](),
		subscriptions:  newTable[*subscription](),
		invoices:       newTable[*invoice](),
		charges:        newTable[*charge](),
		paymentIntents: newTable[*paymentIntent](),
		refunds:        newTable[*refund](),
		disputes:       newTable[*dispute](),
		balanceTxns:    newTable[*balanceTxn](),
		portalSessions: newTable[*portalSession](),
		events:         newTable[*event](),
		endpoints:      newTable[*endpoint](),
		idem:           idempotencyStore{entries: map[string]*idemEntry{}},
	}
}

func (st *state) now() time.Time {
	if !st.at.IsZero() {
		return st.at
	}
	return st.clock()
}

func (st *state) unix() int64 { return st.now().Unix() }

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// token returns n random characters of Stripe's id alphabet.
func (st *state) token(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[st.rng.IntN(len(idAlphabet))]
	}
	return string(b)
}

// newMeta starts a new object: Stripe ids are a type prefix and random
// characters (14 for customers and products, 24 for most others).
func (st *state) newMeta(prefix string, n int) meta {
	st.seq++
	return meta{ID: prefix + st.token(n), Created: st.unix(), Metadata: map[string]string{}, seq: st.seq}
}

// canon turns any JSON-able value into the generic tree encoding/json
// decodes (maps, []any, json.Number, string, bool, nil). Rendering goes
// through it so that diffs and expansion never trip over int vs int64.
func canon(v any) obj {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err) // render code produced something unencodable: a bug here
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out obj
	if err := dec.Decode(&out); err != nil {
		panic(err)
	}
	return out
}

// diff returns the previous values of what changed from before to after,
// the way Stripe fills data.previous_attributes: nested objects (metadata,
// pause_collection…) only list their changed keys, a key that did not exist
// before is reported as null.
func diff(before, after obj) obj {
	out := obj{}
	for k, bv := range before {
		av, ok := after[k]
		if ok && reflect.DeepEqual(av, bv) {
			continue
		}
		bm, bIsMap := bv.(map[string]any)
		am, aIsMap := av.(map[string]any)
		if bIsMap && aIsMap && bm["object"] == nil {
			if d := diff(bm, am); len(d) > 0 {
				out[k] = d
			}
			continue
		}
		out[k] = bv
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			out[k] = nil
		}
	}
	return out
}

// nullable renders Stripe's null for empty optional values.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

func metadataCopy(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

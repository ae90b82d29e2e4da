package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// EventQuery is the inbox (stripe_event): every Stripe event, stored once,
// then claimed and delivered to Matrix in per-customer order.
type EventQuery struct {
	*dbutil.QueryHelper[*Event]
	// insert is Insert's statement, prepared once per connection instead
	// of parsed and planned for every webhook (preparedInsert).
	insert preparedStatement
}

// EventState is where an inbox event is in its life.
type EventState string

const (
	// EventPending waits for delivery, first or again after a retryable error.
	EventPending EventState = "pending"
	// EventDelivered has been posted to Matrix.
	EventDelivered EventState = "delivered"
	// EventSkipped was deliberately not posted (nothing to show, unknown account…).
	EventSkipped EventState = "skipped"
	// EventFailed gave up; it waits for an operator's Retry and blocks nothing.
	EventFailed EventState = "failed"
	// EventUnresolved names no customer and its customer could not be looked
	// up when it arrived (Stripe unreachable). It is in nobody's queue until
	// Resolve gives it its customer (or none): delivering it customer-less
	// would let it overtake its customer's earlier events.
	EventUnresolved EventState = "unresolved"
)

// Event is one Stripe event in the inbox.
type Event struct {
	ID            string // evt_…
	AccountID     string
	CustomerID    string // empty for events that belong to no customer
	Type          string
	APIVersion    string
	Created       time.Time // Stripe's created; whole seconds
	Payload       json.RawMessage
	ReceivedAt    time.Time
	State         EventState
	Attempts      int // claims so far, including ones whose worker died
	NextAttemptAt time.Time
	LastError     string // also the reason an event was skipped
	ClaimedBy     string
	ClaimedUntil  time.Time
	MatrixEventID id.EventID
	DeliveredAt   time.Time
	// CausalRank orders events of one second by Stripe's causal order;
	// Insert sets it from Type (CausalRank).
	CausalRank int
	// ArrivalSeq is the inbox's arrival number, set by Insert: the last
	// tie-breaker of the delivery order.
	ArrivalSeq int64
	// ObjectID is data.object.id ("" if unknown), so that a later event
	// about the object finds its customer.
	ObjectID string
	// FirstClaimedAt is when the event was first claimed (zero: never):
	// nothing of it can have been posted before, which bounds how far back
	// an attempt with an unknown outcome looks for it in the room.
	FirstClaimedAt time.Time
	// HappeningKey names the billing happening the event belongs to (""
	// stands alone); Insert sets it from Type and Payload (HappeningKey).
	HappeningKey string
	// HappeningLead is the event whose customer message shows the
	// happening this one was delivered into ("" if none).
	HappeningLead string
	// Facts is Payload's data as the caller already decoded it (the
	// webhook does, once per event), so that Insert does not decode the
	// payload again; nil: Insert decodes it. It is not stored, and events
	// read from the inbox have none.
	Facts *PayloadFacts
}

// OutcomeUnknown reports whether an earlier attempt may have posted the
// event: it was claimed before (a worker that died or timed out, a retry) or
// an operator retried it after a failure. Such an attempt looks for the
// event's marker in the room before sending; a first attempt does not.
func (e *Event) OutcomeUnknown() bool {
	return e.Attempts > 1 || e.LastError != ""
}

func newEvent() *Event { return &Event{} }

const eventColumns = `
	event_id, account_id, customer_id, type, api_version, created, payload, received_at,
	state, attempts, next_attempt_at, last_error, claimed_by, claimed_until, matrix_event_id, delivered_at,
	causal_rank, object_id, first_claimed_at, happening_key, happening_lead, arrival_seq
`

const (
	getEventByIDQuery  = `SELECT ` + eventColumns + ` FROM stripe_event WHERE event_id=$1`
	listFailedQuery    = `SELECT ` + eventColumns + ` FROM stripe_event WHERE state='failed' ORDER BY created, event_id LIMIT $1`
	accountHealthQuery = `
		SELECT COALESCE(MAX(received_at), 0),
		       COUNT(*) FILTER (WHERE state IN ('pending', 'unresolved')),
		       COUNT(*) FILTER (WHERE state='failed')
		FROM stripe_event WHERE account_id=$1
	`
	// arrival_seq comes from its sequence on PostgreSQL; on SQLite, which
	// runs one write at a time, from the largest so far (%s).
	insertEventQuery = `
		INSERT INTO stripe_event (` + eventColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, %s)
		ON CONFLICT (event_id) DO NOTHING
		RETURNING arrival_seq
	`
	nextArrivalPostgres = `DEFAULT`
	nextArrivalSQLite   = `(SELECT COALESCE(MAX(arrival_seq), 0) + 1 FROM stripe_event)`

	// The claim queries share their first parameters: $1 now and $2 the
	// hold window's end (now less the hold: events of a happening that
	// arrived by then are out of it), in milliseconds.

	// claimEventQuery (SQLite) claims the oldest event that may be
	// delivered now, in one statement: SQLite writes one statement at a
	// time, and a writing statement sees every claim committed before it.
	// $3 worker id, $4 lease expiry.
	claimEventQuery = `
		UPDATE stripe_event
		SET claimed_by=$3, claimed_until=$4, attempts=attempts+1, first_claimed_at=COALESCE(first_claimed_at, $1)
		WHERE event_id = (
			SELECT candidate.event_id
			FROM stripe_event candidate
			WHERE ` + claimableCondition + `
			ORDER BY candidate.created, candidate.causal_rank, candidate.arrival_seq
			LIMIT 1
		)
		RETURNING ` + eventColumns

	// claimCandidateQuery (PostgreSQL) walks the events that may be
	// delivered now in delivery order, at most $3 of them, and returns the
	// first whose customer's claim lock (claimCustomerLock) it gets, for
	// claimCandidateEventQuery to claim in a statement of its own.
	//
	// Each level is a fence for the planner. The innermost is a plain
	// ordered walk of pending events (OFFSET 0 keeps the conditions out of
	// it): PostgreSQL guesses that few events pass the conditions, and with
	// them inside it would sort every pending event and test each, where
	// the walk stops at the first that passes. The middle LIMIT keeps the
	// lock out of the conditions, so that only events that pass are tried,
	// one by one, up to the first lock taken: no other customer is locked.
	claimCandidateQuery = `
		SELECT candidate.event_id
		FROM (
			SELECT candidate.event_id, candidate.account_id, candidate.customer_id
			FROM (
				SELECT event_id, account_id, customer_id, state, next_attempt_at, happening_key, received_at, claimed_until
				FROM stripe_event
				WHERE state='pending'
				ORDER BY created, causal_rank, arrival_seq
				OFFSET 0
			) candidate
			WHERE ` + claimableCondition + `
			LIMIT $3
		) candidate
		WHERE pg_try_advisory_xact_lock(` + claimCustomerLock + `)
		LIMIT 1
	`
	// claimCustomerLock keys a customer queue's advisory lock: in the key
	// space of roomLockQuery, under a prefix of its own.
	claimCustomerLock = `hashtextextended('claim:' || candidate.account_id || '/' || COALESCE(candidate.customer_id, ''), 7888181691312336997)`
	// claimCandidateEventQuery claims the event claimCandidateQuery found,
	// if it may still be delivered: this statement starts after the lock
	// was taken, so it sees every claim of the customer committed before,
	// and the update rechecks the row if someone changed it meanwhile.
	// $3 event id, $4 worker id, $5 lease expiry.
	claimCandidateEventQuery = `
		UPDATE stripe_event AS candidate
		SET claimed_by=$4, claimed_until=$5, attempts=attempts+1, first_claimed_at=COALESCE(first_claimed_at, $1)
		WHERE candidate.event_id=$3 AND ` + claimableCondition + `
		RETURNING ` + eventColumns

	// claimableCondition: the event candidate may be delivered now.
	//
	// The unary + hides next_attempt_at from the planners, which would
	// otherwise take stripe_event_claim_idx for it and sort; the walk in
	// delivery order (stripe_event_order_idx) stops at the first event
	// that may go.
	claimableCondition = `
		candidate.state='pending'
		-- A retried event waits out its backoff.
		AND +candidate.next_attempt_at <= $1
		-- An event of a happening waits out the hold window after it
		-- arrived, so that the rest of the happening's events are in the
		-- inbox when it is posted (HappeningKey).
		AND (candidate.happening_key IS NULL OR candidate.received_at <= $2)
		-- Another worker is delivering it, unless its lease ran out (the
		-- worker died): then it is anyone's again.
		AND (candidate.claimed_until IS NULL OR candidate.claimed_until <= $1)
		AND ` + queueFreeCondition

	// queueFreeCondition: candidate is the head of its customer's queue,
	// and nobody is delivering another event of that customer ($1 now).
	//
	// Each is one probe into the customer's own queue in a partial index
	// of pending events (stripe_event_queue_idx, stripe_event_claimed_idx),
	// so it costs the same however long the customer's history and however
	// many other customers' events wait. Events without a customer are
	// their account's customer-less queue: COALESCE makes NULL one more
	// queue key, as in the indexes; "= or both NULL" would reach no index.
	queueFreeCondition = `
		-- Per-customer order: only the customer's oldest pending event may
		-- go. An older one that is claimed or backing off blocks the rest;
		-- a failed one does not (it waits for an operator). Stripe's created
		-- has second precision: within a second, Stripe's causal order of
		-- types, then arrival.
		candidate.event_id = (
			SELECT head.event_id
			FROM stripe_event head
			WHERE head.state='pending'
				AND head.account_id=candidate.account_id
				AND COALESCE(head.customer_id, '')=COALESCE(candidate.customer_id, '')
			ORDER BY head.created, head.causal_rank, head.arrival_seq
			LIMIT 1
		)
		-- One delivery per customer at a time, even when an earlier event
		-- arrived after a later one was already claimed (Stripe does not
		-- deliver webhooks in order): two at once would race to create the
		-- customer's room. (A scalar subquery, not NOT EXISTS, which
		-- PostgreSQL would make a join and then plan the walk for every
		-- pending event instead of the first that may go.)
		AND (
			SELECT busy.event_id
			FROM stripe_event busy
			WHERE busy.state='pending'
				AND busy.claimed_until IS NOT NULL
				AND busy.claimed_until > $1
				AND busy.account_id=candidate.account_id
				AND COALESCE(busy.customer_id, '')=COALESCE(candidate.customer_id, '')
			LIMIT 1
		) IS NULL`

	// nextClaimableQuery: the earliest time at which an event nobody has
	// claimed becomes due (its backoff or its hold window ends), later than
	// $1 (now), or NULL; $2 is the hold window. It may be the time of an
	// event that still waits behind its customer's head then: an idle
	// worker wakes for nothing, once per such event, which is cheaper than
	// finding the heads.
	nextClaimableQuery = `
		SELECT MIN(due)
		FROM (
			SELECT CASE
				WHEN happening_key IS NOT NULL AND received_at + $2 > next_attempt_at THEN received_at + $2
				ELSE next_attempt_at
			END AS due
			FROM stripe_event
			WHERE state='pending' AND claimed_until IS NULL
		) waiting
		WHERE due > $1
	`

	// The Mark* updates only touch pending events: a worker whose lease ran
	// out must not undo what the worker that took over has recorded. A
	// delivery is recorded by whoever made it (a successful send must never
	// be forgotten, and the taker-over finds the same message by its
	// marker); the other outcomes release the claim, so only its holder
	// ($4, $3) may: a stale worker's retry would otherwise free an event the
	// taker-over is sending, for a third worker to send again.
	markEventDeliveredQuery = `
		UPDATE stripe_event
		SET state='delivered', matrix_event_id=$2, delivered_at=$3, claimed_by=NULL, claimed_until=NULL
		WHERE event_id=$1 AND state='pending'
	`
	markEventRetryQuery = `
		UPDATE stripe_event
		SET last_error=$2, next_attempt_at=$3, claimed_by=NULL, claimed_until=NULL
		WHERE event_id=$1 AND state='pending' AND claimed_by=$4
	`
	markEventFailedQuery = `
		UPDATE stripe_event
		SET state='failed', last_error=$2, claimed_by=NULL, claimed_until=NULL
		WHERE event_id=$1 AND state='pending' AND claimed_by=$3
	`
	markEventSkippedQuery = `
		UPDATE stripe_event
		SET state='skipped', last_error=$2, claimed_by=NULL, claimed_until=NULL
		WHERE event_id=$1 AND state='pending' AND claimed_by=$3
	`
	// A heartbeat: the claim is still ours as long as nobody took it over,
	// even if it lapsed for a moment.
	renewClaimQuery = `
		UPDATE stripe_event SET claimed_until=$3
		WHERE event_id=$1 AND state='pending' AND claimed_by=$2
	`
	// $1 is the worker-id prefix of a process that is known to be dead.
	releaseClaimsQuery = `
		UPDATE stripe_event SET claimed_by=NULL, claimed_until=NULL
		WHERE state='pending' AND claimed_by IS NOT NULL
			AND substr(claimed_by, 1, length(CAST($1 AS TEXT))) = CAST($1 AS TEXT)
	`
	listUnresolvedQuery = `
		SELECT ` + eventColumns + ` FROM stripe_event
		WHERE state='unresolved' AND next_attempt_at <= $1
		ORDER BY created, causal_rank, arrival_seq
		LIMIT $2
	`
	// Attempts restart: they counted lookups, not deliveries. The event is
	// due at once, in its customer's queue at its place in delivery order.
	resolveEventQuery = `
		UPDATE stripe_event
		SET state='pending', customer_id=$2, attempts=0, next_attempt_at=$3, last_error=NULL
		WHERE event_id=$1 AND state='unresolved'
	`
	markUnresolvedRetryQuery = `
		UPDATE stripe_event
		SET attempts=attempts+1, last_error=$2, next_attempt_at=$3
		WHERE event_id=$1 AND state='unresolved'
	`
	// Any event of the account about the object that names a customer, or a
	// message the bridge posted about it: the object's customer is theirs.
	customerOfObjectQuery = `
		SELECT customer_id FROM stripe_event
		WHERE account_id=$1 AND object_id=$2 AND customer_id IS NOT NULL
		UNION ALL
		SELECT customer_id FROM message
		WHERE account_id=$1 AND stripe_object_id=$2 AND customer_id IS NOT NULL AND customer_id <> ''
		LIMIT 1
	`
	// Attempts restart so the worker's give-up rule applies afresh.
	retryEventQuery = `
		UPDATE stripe_event
		SET state='pending', attempts=0, next_attempt_at=0
		WHERE event_id=$1 AND state='failed'
	`
)

// CustomerOfObject returns the customer the bridge has already seen owning a
// Stripe object (a charge, a payment intent) of the account, or "".
func (eq *EventQuery) CustomerOfObject(ctx context.Context, accountID, objectID string) (string, error) {
	if objectID == "" {
		return "", nil
	}
	var customerID string
	err := eq.GetDB().QueryRow(ctx, customerOfObjectQuery, accountID, objectID).Scan(&customerID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return customerID, err
}

// ListUnresolved returns up to limit unresolved events due for another
// customer lookup at now, in delivery order.
func (eq *EventQuery) ListUnresolved(ctx context.Context, now time.Time, limit int) ([]*Event, error) {
	return eq.QueryMany(ctx, listUnresolvedQuery, now.UnixMilli(), limit)
}

// Resolve gives an unresolved event its customer ("" for none: it then joins
// the account's customer-less queue) and queues it, due at now. It reports
// false if the event is not unresolved (another process resolved it).
func (eq *EventQuery) Resolve(ctx context.Context, eventID, customerID string, now time.Time) (bool, error) {
	res, err := eq.GetDB().Exec(ctx, resolveEventQuery, eventID, dbutil.StrPtr(customerID), now.UnixMilli())
	if err != nil {
		return false, err
	}
	affected, err := res.RowsAffected()
	return affected == 1, err
}

// MarkUnresolvedRetry records a failed customer lookup; the next is due at
// nextAttempt.
func (eq *EventQuery) MarkUnresolvedRetry(ctx context.Context, eventID, errMsg string, nextAttempt time.Time) error {
	return eq.Exec(ctx, markUnresolvedRetryQuery, eventID, errMsg, nextAttempt.UnixMilli())
}

// AccountHealth is what the inbox says about one account's webhooks.
type AccountHealth struct {
	LastReceived time.Time // zero if nothing ever arrived
	Pending      int
	Failed       int
}

// Health summarises an account's inbox for the `accounts` command.
func (eq *EventQuery) Health(ctx context.Context, accountID string) (*AccountHealth, error) {
	var last int64
	var health AccountHealth
	err := eq.GetDB().QueryRow(ctx, accountHealthQuery, accountID).Scan(&last, &health.Pending, &health.Failed)
	if err != nil {
		return nil, err
	}
	if last > 0 {
		health.LastReceived = time.UnixMilli(last)
	}
	return &health, nil
}

// Get returns the event, or nil.
func (eq *EventQuery) Get(ctx context.Context, eventID string) (*Event, error) {
	return eq.QueryOne(ctx, getEventByIDQuery, eventID)
}

// Insert stores a newly received event. An event already in the inbox is left
// untouched and inserted is false: Stripe delivers at least once, and the
// webhook and the catch-up may both bring the same event.
//
// Empty State means pending, zero ReceivedAt means now, zero NextAttemptAt
// means at once. CausalRank is always set from Type, and ArrivalSeq is
// assigned, so that every inserter queues the same way.
func (eq *EventQuery) Insert(ctx context.Context, evt *Event) (inserted bool, err error) {
	if evt.State == "" {
		evt.State = EventPending
	}
	if evt.ReceivedAt.IsZero() {
		evt.ReceivedAt = nowMilli()
	}
	if evt.NextAttemptAt.IsZero() {
		evt.NextAttemptAt = evt.ReceivedAt
	}
	evt.CausalRank = CausalRank(evt.Type)
	facts := evt.Facts
	if facts == nil {
		facts = ReadPayloadFacts(evt.Payload)
	}
	evt.HappeningKey = facts.HappeningKey(evt.Type)
	vars := evt.sqlVariables()
	err = eq.insert.queryRow(ctx, eq.GetDB(), eq.insertQuery(), vars[:len(vars)-1]...).Scan(&evt.ArrivalSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (eq *EventQuery) insertQuery() string {
	next := nextArrivalSQLite
	if eq.GetDB().Dialect == dbutil.Postgres {
		next = nextArrivalPostgres
	}
	return fmt.Sprintf(insertEventQuery, next)
}

// ClaimNext is ClaimNextHeld without a hold window.
func (eq *EventQuery) ClaimNext(ctx context.Context, workerID string, lease time.Duration, now time.Time) (*Event, error) {
	return eq.ClaimNextHeld(ctx, workerID, lease, 0, now)
}

// ClaimNextHeld leases the oldest event that may be delivered now to
// workerID until now+lease, or returns nil if there is none. An event of a
// happening may be delivered once hold has passed since it arrived. The
// worker must end the claim with MarkDelivered (or MarkMemberDelivered),
// MarkRetry, MarkFailed or MarkSkipped, renewing it (RenewClaim) while it
// works, or another worker may take the event over.
func (eq *EventQuery) ClaimNextHeld(ctx context.Context, workerID string, lease, hold time.Duration, now time.Time) (*Event, error) {
	nowMs, heldMs := now.UnixMilli(), now.Add(-hold).UnixMilli()
	if eq.GetDB().Dialect != dbutil.Postgres {
		return eq.QueryOne(ctx, claimEventQuery, nowMs, heldMs, workerID, now.Add(lease).UnixMilli())
	}
	// On PostgreSQL two concurrent claims do not see each other's
	// uncommitted claim, so both could pass the one-per-customer check for
	// different events of one customer (the second an earlier event that
	// arrived late). So every claim of a customer's event holds the
	// customer's advisory lock, taken before the statement that checks and
	// claims: that statement then sees every claim of the customer
	// committed before, and no other can be under way. Claims of different
	// customers do not wait for each other, and a customer whose lock is
	// taken is skipped, not waited for: its queue is busy anyway. Both
	// statements run in one function call (claimfunc.go).
	return eq.QueryOne(ctx, "SELECT "+eventColumns+" FROM "+claimFunctionName+"($1, $2, $3, $4, $5)",
		nowMs, heldMs, claimCandidates, workerID, now.Add(lease).UnixMilli())
}

// claimCandidates bounds how many due events a PostgreSQL claim looks at
// for one whose customer is not being claimed by someone else right now:
// more than the claims that can be under way at once in practice.
const claimCandidates = 64

// NextClaimable returns the first time after now at which an unclaimed
// event becomes due, its backoff or hold window over, or the zero time if
// none is waiting for either: until then an idle worker has nothing new to
// claim, unless an event arrives or a delivery ends (they wake it by other
// means) or a lease runs out.
func (eq *EventQuery) NextClaimable(ctx context.Context, hold time.Duration, now time.Time) (time.Time, error) {
	var next sql.NullInt64
	if err := eq.GetDB().QueryRow(ctx, nextClaimableQuery, now.UnixMilli(), hold.Milliseconds()).Scan(&next); err != nil {
		return time.Time{}, err
	}
	return nullUnixMilli(next), nil
}

// MarkDelivered records that the event is in the room as matrixEventID.
func (eq *EventQuery) MarkDelivered(ctx context.Context, eventID string, matrixEventID id.EventID, now time.Time) error {
	return eq.Exec(ctx, markEventDeliveredQuery, eventID, matrixEventID, now.UnixMilli())
}

// MarkRetry releases workerID's claim after a retryable error; the event
// (and with it the rest of its customer's queue) waits until nextAttempt. A
// claim workerID no longer holds is left alone.
func (eq *EventQuery) MarkRetry(ctx context.Context, eventID, workerID, errMsg string, nextAttempt time.Time) error {
	return eq.Exec(ctx, markEventRetryQuery, eventID, errMsg, nextAttempt.UnixMilli(), workerID)
}

// MarkFailed gives up on the event until an operator retries it, if
// workerID holds its claim. Later events of the same customer go ahead
// without it.
func (eq *EventQuery) MarkFailed(ctx context.Context, eventID, workerID, errMsg string) error {
	return eq.Exec(ctx, markEventFailedQuery, eventID, errMsg, workerID)
}

// MarkSkipped records that the event will deliberately never be posted, and
// why, if workerID holds its claim.
func (eq *EventQuery) MarkSkipped(ctx context.Context, eventID, workerID, reason string) error {
	return eq.Exec(ctx, markEventSkippedQuery, eventID, reason, workerID)
}

// RenewClaim extends workerID's claim of the event until until: the
// heartbeat of a delivery that takes longer than a lease. It reports false
// if the claim is no longer workerID's (the event was taken over or its
// outcome recorded); the worker must then stop.
func (eq *EventQuery) RenewClaim(ctx context.Context, eventID, workerID string, until time.Time) (bool, error) {
	res, err := eq.GetDB().Exec(ctx, renewClaimQuery, eventID, workerID, until.UnixMilli())
	if err != nil {
		return false, err
	}
	affected, err := res.RowsAffected()
	return affected == 1, err
}

// ReleaseClaims frees every claim whose worker id starts with prefix, so
// that their events are due at once instead of when their leases run out.
// Only for the claims of a process known to be dead: the bridge calls it on
// start for the worker ids of its predecessor on the same host and listener.
func (eq *EventQuery) ReleaseClaims(ctx context.Context, prefix string) (int64, error) {
	if prefix == "" {
		return 0, errors.New("release claims: empty worker prefix would release every claim")
	}
	res, err := eq.GetDB().Exec(ctx, releaseClaimsQuery, prefix)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ListFailed returns up to limit failed events, oldest first.
func (eq *EventQuery) ListFailed(ctx context.Context, limit int) ([]*Event, error) {
	return eq.QueryMany(ctx, listFailedQuery, limit)
}

// Retry puts a failed event back in the queue, due at once. It reports false
// if there is no failed event with that id.
func (eq *EventQuery) Retry(ctx context.Context, eventID string) (bool, error) {
	res, err := eq.GetDB().Exec(ctx, retryEventQuery, eventID)
	if err != nil {
		return false, err
	}
	affected, err := res.RowsAffected()
	return affected == 1, err
}

func (e *Event) Scan(row dbutil.Scannable) (*Event, error) {
	var customerID, lastError, claimedBy, matrixEventID, objectID, happeningKey, happeningLead sql.NullString
	var claimedUntil, deliveredAt, firstClaimedAt sql.NullInt64
	var created, receivedAt, nextAttemptAt int64
	var payload []byte
	err := row.Scan(
		&e.ID, &e.AccountID, &customerID, &e.Type, &e.APIVersion, &created, &payload, &receivedAt,
		&e.State, &e.Attempts, &nextAttemptAt, &lastError, &claimedBy, &claimedUntil, &matrixEventID, &deliveredAt,
		&e.CausalRank, &objectID, &firstClaimedAt, &happeningKey, &happeningLead, &e.ArrivalSeq,
	)
	if err != nil {
		return nil, err
	}
	e.CustomerID = customerID.String
	e.Created = time.Unix(created, 0)
	e.Payload = payload
	e.ReceivedAt = time.UnixMilli(receivedAt)
	e.NextAttemptAt = time.UnixMilli(nextAttemptAt)
	e.LastError = lastError.String
	e.ClaimedBy = claimedBy.String
	e.ClaimedUntil = nullUnixMilli(claimedUntil)
	e.MatrixEventID = id.EventID(matrixEventID.String)
	e.DeliveredAt = nullUnixMilli(deliveredAt)
	e.ObjectID = objectID.String
	e.FirstClaimedAt = nullUnixMilli(firstClaimedAt)
	e.HappeningKey = happeningKey.String
	e.HappeningLead = happeningLead.String
	return e, nil
}

func (e *Event) sqlVariables() []any {
	return []any{
		e.ID, e.AccountID, dbutil.StrPtr(e.CustomerID), e.Type, e.APIVersion, e.Created.Unix(),
		string(e.Payload), e.ReceivedAt.UnixMilli(),
		e.State, e.Attempts, e.NextAttemptAt.UnixMilli(), dbutil.StrPtr(e.LastError),
		dbutil.StrPtr(e.ClaimedBy), dbutil.UnixMilliPtr(e.ClaimedUntil),
		dbutil.StrPtr(e.MatrixEventID), dbutil.UnixMilliPtr(e.DeliveredAt),
		e.CausalRank, dbutil.StrPtr(e.ObjectID), dbutil.UnixMilliPtr(e.FirstClaimedAt),
		dbutil.StrPtr(e.HappeningKey), dbutil.StrPtr(e.HappeningLead), e.ArrivalSeq,
	}
}

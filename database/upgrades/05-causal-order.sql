-- v5: Deliver a customer's events in causal order; resolve customers before queueing
-- Within one second (Stripe's created resolution) a customer's events go in
-- Stripe's causal order of types (database.CausalRank), then in arrival
-- order. Events stored before this version keep rank 0: they were already
-- queued in created order.
ALTER TABLE stripe_event ADD COLUMN causal_rank INTEGER NOT NULL DEFAULT 0;
-- A monotonic arrival number. PostgreSQL numbers rows from a sequence; SQLite
-- writes one statement at a time, so each insert takes MAX+1 (indexed), and
-- rows stored before this version are numbered by rowid, their insertion order.
-- only: postgres
ALTER TABLE stripe_event ADD COLUMN arrival_seq BIGSERIAL;
-- only: sqlite for next 2 lines
ALTER TABLE stripe_event ADD COLUMN arrival_seq BIGINT;
UPDATE stripe_event SET arrival_seq=rowid;
-- data.object.id, so an event whose object names no customer (a refund, a
-- dispute) can find it through an earlier event about its charge.
ALTER TABLE stripe_event ADD COLUMN object_id TEXT;

DROP INDEX stripe_event_order_idx;
DROP INDEX stripe_event_customer_order_idx;
-- Claims walk pending events in delivery order and stop at the first deliverable one.
CREATE INDEX stripe_event_order_idx ON stripe_event (state, created, causal_rank, arrival_seq);
CREATE INDEX stripe_event_customer_order_idx ON stripe_event (account_id, customer_id, created, causal_rank, arrival_seq);
CREATE INDEX stripe_event_object_idx ON stripe_event (account_id, object_id);
-- only: sqlite
CREATE INDEX stripe_event_arrival_idx ON stripe_event (arrival_seq);
CREATE INDEX message_stripe_object_idx ON message (account_id, stripe_object_id);

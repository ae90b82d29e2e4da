-- v3: Index the inbox in delivery order
-- Without it a claim sorts every pending event and checks each against the
-- rest: quadratic in a catch-up backlog.
CREATE INDEX stripe_event_order_idx ON stripe_event (state, created, event_id);

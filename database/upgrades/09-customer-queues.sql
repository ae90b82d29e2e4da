-- v9: Index each customer's queue of pending events for claims
-- A claim checks that an event is its customer's oldest pending one and that
-- no other event of the customer is being delivered. Over the whole inbox,
-- with NULL customers matched by "= or both NULL", that read the customer's
-- whole history, or every pending event, for each event looked at. Pending
-- events only, keyed as the claim asks (NULL customer: the account's
-- customer-less queue), each is one probe.
CREATE INDEX stripe_event_queue_idx ON stripe_event (account_id, COALESCE(customer_id, ''), created, causal_rank, arrival_seq) WHERE state='pending';
CREATE INDEX stripe_event_claimed_idx ON stripe_event (account_id, COALESCE(customer_id, '')) WHERE state='pending' AND claimed_until IS NOT NULL;

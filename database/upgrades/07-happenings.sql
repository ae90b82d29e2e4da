-- v7: Group the events of one billing happening into one customer message
-- Stripe emits several events for one happening (a renewal: the invoice
-- finalized, the charge, the invoice paid, the subscription rolled over).
-- happening_key names the happening an event belongs to (database.HappeningKey;
-- NULL: the event stands alone). happening_lead is the event whose customer
-- message shows the happening: its members are delivered into that message,
-- together or as edits (m.replace) of it. NULL: not part of a posted happening.
ALTER TABLE stripe_event ADD COLUMN happening_key TEXT;
ALTER TABLE stripe_event ADD COLUMN happening_lead TEXT;
CREATE INDEX stripe_event_happening_idx ON stripe_event (account_id, customer_id, happening_key);
CREATE INDEX stripe_event_happening_lead_idx ON stripe_event (happening_lead);

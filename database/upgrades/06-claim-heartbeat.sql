-- v6: Remember when an inbox event was first claimed, to bound the marker look-up
-- A delivery attempt whose outcome is unknown (the event was claimed before)
-- looks in the room for a message carrying the event's id before sending
-- again; nothing of the event can have been posted before its first claim,
-- so the look-up reads back no further than that. NULL: never claimed.
ALTER TABLE stripe_event ADD COLUMN first_claimed_at BIGINT;

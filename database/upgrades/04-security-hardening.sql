-- v4: Process command events and transactions at most once; retry invites
-- Every Matrix event that can cause a write or a state change is recorded
-- here before it is acted on, so a redelivered event (a new appservice
-- transaction, a restart, another bridge process) is never acted on twice.
CREATE TABLE processed_event (
	event_id     TEXT   NOT NULL PRIMARY KEY,
	room_id      TEXT   NOT NULL,
	sender       TEXT   NOT NULL,
	-- The pending action a confirm, approve, deny or ✅ resolved, once known.
	action_id    TEXT,
	processed_at BIGINT NOT NULL
);
CREATE INDEX processed_event_time_idx ON processed_event (processed_at);

-- Appservice transaction ids the homeserver already delivered.
CREATE TABLE appservice_txn (
	txn_id      TEXT   NOT NULL PRIMARY KEY,
	received_at BIGINT NOT NULL
);
CREATE INDEX appservice_txn_time_idx ON appservice_txn (received_at);

-- Invites that failed (e.g. a remote homeserver that cannot be reached):
-- the room and its timeline go on, the invite is retried with backoff.
CREATE TABLE portal_invite (
	room_id         TEXT    NOT NULL,
	user_id         TEXT    NOT NULL,
	account_id      TEXT    NOT NULL,
	customer_id     TEXT    NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT  NOT NULL,
	last_error      TEXT,
	created_at      BIGINT  NOT NULL,

	PRIMARY KEY (room_id, user_id)
);
CREATE INDEX portal_invite_due_idx ON portal_invite (next_attempt_at);

-- The command a pending action came from, so a confirmation can see that it
-- was redacted even on homeservers that do not push redactions (Dendrite).
ALTER TABLE pending_action ADD COLUMN command_event_id TEXT;

-- Whose object a refused command named, so `audit cus_…` finds an attempt
-- on a customer's data from another customer's room.
ALTER TABLE audit_log ADD COLUMN target_customer_id TEXT;
CREATE INDEX audit_log_target_customer_idx ON audit_log (account_id, target_customer_id, ts);

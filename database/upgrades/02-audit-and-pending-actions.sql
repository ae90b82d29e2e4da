-- v2: Add audit log and pending actions
CREATE TABLE audit_log (
	-- only: postgres
	id                BIGSERIAL PRIMARY KEY,
	-- only: sqlite (line commented)
--	id                INTEGER   PRIMARY KEY,
	ts                BIGINT    NOT NULL,
	actor             TEXT      NOT NULL,
	role              TEXT      NOT NULL,
	account_id        TEXT,
	customer_id       TEXT,
	room_id           TEXT,
	command           TEXT      NOT NULL,
	target_object     TEXT,
	parameters        TEXT,
	idempotency_key   TEXT,
	stripe_request_id TEXT,
	outcome           TEXT      NOT NULL,
	error             TEXT
);
CREATE INDEX audit_log_customer_idx ON audit_log (account_id, customer_id, ts);
CREATE INDEX audit_log_room_idx ON audit_log (room_id, ts);

CREATE TABLE pending_action (
	id              TEXT   NOT NULL PRIMARY KEY,
	room_id         TEXT   NOT NULL,
	-- Only the requester may confirm.
	requester       TEXT   NOT NULL,
	command         TEXT   NOT NULL,
	parameters      TEXT   NOT NULL,
	summary         TEXT   NOT NULL,
	prompt_event_id TEXT,
	idempotency_key TEXT   NOT NULL,
	created_at      BIGINT NOT NULL,
	expires_at      BIGINT NOT NULL,
	state           TEXT   NOT NULL DEFAULT 'pending'
);
CREATE INDEX pending_action_prompt_idx ON pending_action (room_id, prompt_event_id);
CREATE INDEX pending_action_expiry_idx ON pending_action (state, expires_at);

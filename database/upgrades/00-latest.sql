-- v0 -> v16: Latest revision
CREATE TABLE stripe_account (
	-- The alias from the config: known before any API call, unlike stripe_id.
	id             TEXT    NOT NULL PRIMARY KEY,
	-- acct_…, unknown until the first API call with the account's key.
	stripe_id      TEXT,
	display_name   TEXT    NOT NULL,
	livemode       BOOLEAN NOT NULL,
	space_room_id  TEXT,
	-- Room for events that belong to no customer.
	feed_room_id   TEXT,
	-- Last event id seen by the Events API catch-up, and when it ran.
	catchup_cursor TEXT,
	catchup_at     BIGINT
);

-- A request to create an account's Space or feed room, recorded before it
-- is sent: the next attempt looks for the room it may have created.
CREATE TABLE account_room_request (
	account_id   TEXT   NOT NULL,
	-- "space" or "feed".
	kind         TEXT   NOT NULL,
	requested_at BIGINT NOT NULL,

	PRIMARY KEY (account_id, kind)
);

CREATE TABLE portal (
	account_id             TEXT    NOT NULL,
	customer_id            TEXT    NOT NULL,
	-- NULL until the room has been created.
	room_id                TEXT    UNIQUE,
	name                   TEXT    NOT NULL,
	email                  TEXT    NOT NULL,
	-- The Matrix user linked to this customer: they get the customer role here.
	matrix_user_id         TEXT,
	conversation_state     TEXT    NOT NULL DEFAULT 'open',
	assigned_agent         TEXT,
	assistant_enabled      BOOLEAN NOT NULL DEFAULT true,
	last_agent_activity_at BIGINT,
	created_at             BIGINT  NOT NULL,
	updated_at             BIGINT  NOT NULL,
	-- The URL of the agent panel widget the room has; NULL for none.
	panel_widget_url       TEXT,

	PRIMARY KEY (account_id, customer_id),
	CONSTRAINT portal_account_fkey FOREIGN KEY (account_id)
		REFERENCES stripe_account (id) ON DELETE CASCADE
);

-- The inbox. No foreign key to stripe_account on purpose: an event Stripe
-- delivered must be stored even if its account was removed from the config.
CREATE TABLE stripe_event (
	event_id        TEXT    NOT NULL PRIMARY KEY,
	account_id      TEXT    NOT NULL,
	-- NULL for events that belong to no customer; '' would be a second way to say it.
	customer_id     TEXT    CHECK (customer_id <> ''),
	type            TEXT    NOT NULL,
	api_version     TEXT    NOT NULL,
	-- Stripe's created, in seconds: the per-customer delivery order.
	created         BIGINT  NOT NULL,
	payload         TEXT    NOT NULL,
	received_at     BIGINT  NOT NULL,
	state           TEXT    NOT NULL DEFAULT 'pending',
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT  NOT NULL,
	last_error      TEXT,
	claimed_by      TEXT,
	claimed_until   BIGINT,
	matrix_event_id TEXT,
	delivered_at    BIGINT,
	-- Stripe's causal order of the type within one second (database.CausalRank).
	causal_rank     INTEGER NOT NULL DEFAULT 0,
	-- Monotonic arrival number: the last tie-breaker of the delivery order.
	-- On SQLite each insert takes MAX+1 (writes are serialised).
	-- only: postgres
	arrival_seq     BIGSERIAL,
	-- only: sqlite (line commented)
--	arrival_seq     BIGINT,
	-- data.object.id, to find the customer of a later event about it.
	object_id       TEXT,
	-- When the event was first claimed (NULL: never): nothing of it can have
	-- been posted before, so the look-up of an unknown outcome stops there.
	first_claimed_at BIGINT,
	-- The billing happening the event belongs to (database.HappeningKey;
	-- NULL: it stands alone), and the event whose customer message shows
	-- that happening (NULL: not part of a posted happening).
	happening_key   TEXT,
	happening_lead  TEXT
);
CREATE INDEX stripe_event_claim_idx ON stripe_event (state, next_attempt_at);
-- Claims walk pending events in delivery order and stop at the first deliverable one.
CREATE INDEX stripe_event_order_idx ON stripe_event (state, created, causal_rank, arrival_seq);
-- Each customer's queue (NULL customer: the account's customer-less queue),
-- pending events only, so its head is one index probe however long its
-- history; and the few claimed events, to tell whether a customer is busy.
CREATE INDEX stripe_event_queue_idx ON stripe_event (account_id, COALESCE(customer_id, ''), created, causal_rank, arrival_seq) WHERE state='pending';
CREATE INDEX stripe_event_claimed_idx ON stripe_event (account_id, COALESCE(customer_id, '')) WHERE state='pending' AND claimed_until IS NOT NULL;
CREATE INDEX stripe_event_customer_order_idx ON stripe_event (account_id, customer_id, created, causal_rank, arrival_seq);
CREATE INDEX stripe_event_object_idx ON stripe_event (account_id, object_id);
CREATE INDEX stripe_event_happening_idx ON stripe_event (account_id, customer_id, happening_key);
CREATE INDEX stripe_event_happening_lead_idx ON stripe_event (happening_lead);
-- only: sqlite
CREATE INDEX stripe_event_arrival_idx ON stripe_event (arrival_seq);

CREATE TABLE message (
	room_id          TEXT   NOT NULL,
	matrix_event_id  TEXT   NOT NULL,
	stripe_object_id TEXT   NOT NULL,
	-- NULL for messages that answer a command rather than post an event.
	stripe_event_id  TEXT,
	account_id       TEXT   NOT NULL,
	customer_id      TEXT,
	created_at       BIGINT NOT NULL,

	PRIMARY KEY (room_id, matrix_event_id)
);
CREATE INDEX message_object_idx ON message (room_id, stripe_object_id);
CREATE INDEX message_stripe_object_idx ON message (account_id, stripe_object_id);

CREATE TABLE management_room (
	user_id TEXT NOT NULL PRIMARY KEY,
	room_id TEXT NOT NULL
);
CREATE INDEX management_room_room_idx ON management_room (room_id);

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
	error             TEXT,
	-- Whose object a refused command named (another customer's, on purpose or not).
	target_customer_id TEXT
);
CREATE INDEX audit_log_customer_idx ON audit_log (account_id, customer_id, ts);
CREATE INDEX audit_log_room_idx ON audit_log (room_id, ts);
CREATE INDEX audit_log_target_customer_idx ON audit_log (account_id, target_customer_id, ts);

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
	state           TEXT   NOT NULL DEFAULT 'pending',
	-- The command event: a confirmation checks it was not redacted.
	command_event_id TEXT
);
CREATE INDEX pending_action_prompt_idx ON pending_action (room_id, prompt_event_id);
CREATE INDEX pending_action_expiry_idx ON pending_action (state, expires_at);

-- Every Matrix event that can cause a write or a state change, recorded
-- before it is acted on: a redelivered event is never acted on twice.
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

-- A session is the merchant's signed token exchanged for an opaque one;
-- only its SHA-256 is stored, so a database dump signs no one in.
CREATE TABLE webchat_session (
	token_hash   TEXT   NOT NULL PRIMARY KEY,
	account_id   TEXT   NOT NULL,
	customer_id  TEXT   NOT NULL,
	display_name TEXT   NOT NULL,
	locale       TEXT   NOT NULL,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	-- Set when the customer was deleted or unlinked, or the session expired.
	ended_at     BIGINT
);
CREATE INDEX webchat_session_customer_idx ON webchat_session (account_id, customer_id);

-- The Matrix user a web-chat customer speaks as, one per Stripe customer.
CREATE TABLE webchat_ghost (
	account_id  TEXT NOT NULL,
	customer_id TEXT NOT NULL,
	user_id     TEXT NOT NULL UNIQUE,
	-- The newest message the customer has read in the web chat.
	read_up_to  TEXT,
	PRIMARY KEY (account_id, customer_id)
);

-- A send is claimed by the widget's transaction id before it is made, so a
-- retried request (a flaky connection) posts once.
CREATE TABLE webchat_send (
	account_id  TEXT   NOT NULL,
	customer_id TEXT   NOT NULL,
	txn_id      TEXT   NOT NULL,
	event_id    TEXT,
	created_at  BIGINT NOT NULL,
	PRIMARY KEY (account_id, customer_id, txn_id)
);

-- One-time sign-in links to the agent panel, by a digest of their token.
CREATE TABLE panel_link (
	token_hash TEXT   NOT NULL PRIMARY KEY,
	user_id    TEXT   NOT NULL,
	room_id    TEXT   NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT
);

-- What happened in a customer room, one row per fact, recorded as it
-- happens: the dashboard's figures are computed from these rows.
CREATE TABLE conversation_fact (
	-- only: postgres
	id          BIGSERIAL PRIMARY KEY,
	-- only: sqlite (line commented)
--	id          INTEGER   PRIMARY KEY,
	account_id  TEXT      NOT NULL,
	customer_id TEXT      NOT NULL,
	room_id     TEXT      NOT NULL,
	-- Unix milliseconds; with id, the order facts are read in.
	at          BIGINT    NOT NULL,
	-- database.FactKind.
	kind        TEXT      NOT NULL,
	actor       TEXT      NOT NULL DEFAULT '',
	-- For messages: customer, agent, assistant or bot.
	actor_role  TEXT      NOT NULL DEFAULT '',
	detail      TEXT      NOT NULL DEFAULT '',
	-- Minor units, for writes that moved money.
	amount      BIGINT    NOT NULL DEFAULT 0,
	currency    TEXT      NOT NULL DEFAULT '',
	-- The Matrix event the fact is about; NULL for facts that have none.
	event_id    TEXT,
	-- Another event the fact points at (a satisfaction answer's question).
	ref         TEXT      NOT NULL DEFAULT ''
);
-- A redelivered Matrix event records its fact once. NULLs never collide in
-- a unique index (in either dialect), so facts without an event all stay.
CREATE UNIQUE INDEX conversation_fact_event_idx ON conversation_fact (kind, event_id);
-- The dashboard reads a period of every room.
CREATE INDEX conversation_fact_at_idx ON conversation_fact (at);
-- The panel and the inbox read one room's history.
CREATE INDEX conversation_fact_room_idx ON conversation_fact (room_id, at);

-- What the assistant last offered in a customer room, so that a "yes"
-- minutes later runs exactly that step. One row per room.
CREATE TABLE assistant_offer (
	room_id    TEXT   NOT NULL PRIMARY KEY,
	-- The offered step: a self-service command line without the prefix, or "agent".
	offer      TEXT   NOT NULL,
	-- The customer's language, for the reply to the "yes".
	lang       TEXT   NOT NULL DEFAULT '',
	expires_at BIGINT NOT NULL
);

-- Secrets the bridge generates and must keep (the encryption device's
-- recovery key), encrypted with the pickle key. One row per name.
CREATE TABLE bridge_secret (
	name  TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
);

-- Encrypted work that reached a process without the encryption device,
-- kept until the process that holds it has handled it.
CREATE TABLE crypto_handoff (
	-- only: postgres
	id          BIGSERIAL PRIMARY KEY,
	-- only: sqlite (line commented)
--	id          INTEGER   PRIMARY KEY,
	-- event, to_device, device_lists or otk_count
	kind        TEXT      NOT NULL,
	payload     TEXT      NOT NULL,
	-- Unix milliseconds
	received_at BIGINT    NOT NULL
);

-- v8: Web chat sessions, customer ghosts and idempotent sends
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

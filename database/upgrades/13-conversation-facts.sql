-- v13: Conversation facts
-- What happened in a customer room, one row per fact, recorded as it
-- happens: the dashboard's figures (first response, resolution, the
-- assistant, writes, satisfaction) are computed from these rows, never
-- from the room's timeline, which the bridge cannot read back cheaply.
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

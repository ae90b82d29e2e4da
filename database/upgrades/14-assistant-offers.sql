-- v14: The assistant's pending offers
-- What the assistant last offered in a customer room ("reply yes and I'll
-- send the link"), so that a "yes" minutes later — after a restart, or on
-- another process — runs exactly that step. One row per room.
CREATE TABLE assistant_offer (
	room_id    TEXT   NOT NULL PRIMARY KEY,
	-- The offered step: a self-service command line without the prefix, or "agent".
	offer      TEXT   NOT NULL,
	-- The customer's language, for the reply to the "yes".
	lang       TEXT   NOT NULL DEFAULT '',
	expires_at BIGINT NOT NULL
);

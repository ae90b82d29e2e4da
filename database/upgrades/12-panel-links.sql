-- v12: One-time sign-in links to the agent panel
-- A link an agent asked for in the management room opens the panel in a
-- browser tab once, within minutes, for that agent only. Stored by a
-- digest of its token, so the table holds nothing that signs anyone in.
CREATE TABLE panel_link (
	token_hash TEXT   NOT NULL PRIMARY KEY,
	user_id    TEXT   NOT NULL,
	room_id    TEXT   NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT
);

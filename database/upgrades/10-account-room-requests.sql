-- v10: Record room requests for an account's Space and feed room
-- A request to create an account's Space or feed room is recorded before
-- it is sent, as a customer room's is (a portal row without a room): the
-- next attempt then looks for a room that request created without its
-- alias before asking for another. No foreign key: the row is written
-- before the room exists, and means nothing once the account records it.
CREATE TABLE account_room_request (
	account_id   TEXT   NOT NULL,
	-- "space" or "feed".
	kind         TEXT   NOT NULL,
	requested_at BIGINT NOT NULL,

	PRIMARY KEY (account_id, kind)
);

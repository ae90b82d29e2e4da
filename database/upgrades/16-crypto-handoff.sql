-- v16: Encrypted work a process without the encryption device hands over
-- Encrypted events, and the membership changes of encrypted rooms, that
-- reached a process without the device (and, in appservice mode, the
-- device's to-device messages, device lists and key counts), kept until
-- the process that holds the device has handled them.
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

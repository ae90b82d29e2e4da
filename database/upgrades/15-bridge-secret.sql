-- v15: Secrets the bridge generates and must keep
-- The encryption device's recovery key (its cross-signing keys' way back),
-- encrypted with the pickle key. One row per name.
CREATE TABLE bridge_secret (
	name  TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
);

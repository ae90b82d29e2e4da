package database

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"go.mau.fi/util/dbutil"
)

// On PostgreSQL a claim takes the customer's advisory lock in one statement
// and claims in another, which must start after the lock is held
// (ClaimNextHeld). As statements of a client transaction that is four round
// trips (BEGIN, two statements, COMMIT), each statement parsed and planned
// again. In a PL/pgSQL function it is one: the function's statements get
// a new snapshot each, as the client's did, and their plans are cached per
// connection.
//
// The function is built from the same query text as the client-side claim,
// and named after a digest of its body: each bridge version defines and
// calls its own, so processes of two versions sharing a database during an
// upgrade never run each other's claim.
var claimFunctionName, claimFunctionDDL = claimFunction()

func claimFunction() (name, ddl string) {
	candidate := strings.NewReplacer("$1", "p_now", "$2", "p_held", "$3", "p_candidates").Replace(claimCandidateQuery)
	claim := strings.NewReplacer("$1", "p_now", "$2", "p_held", "$3", "v_event_id", "$4", "p_worker", "$5", "p_until").
		Replace(strings.Replace(claimCandidateEventQuery, "RETURNING "+eventColumns, "RETURNING candidate.*", 1))
	body := `
DECLARE
	v_event_id TEXT;
	v_claimed stripe_event;
BEGIN
	-- Another try only when a row changed between the two statements.
	FOR i IN 1..3 LOOP
		v_event_id := (` + candidate + `);
		IF v_event_id IS NULL THEN
			RETURN;
		END IF;
		` + claim + ` INTO v_claimed;
		IF FOUND THEN
			RETURN NEXT v_claimed;
			RETURN;
		END IF;
	END LOOP;
END`
	sum := sha256.Sum256([]byte(body))
	name = "matrix_stripe_claim_" + hex.EncodeToString(sum[:6])
	ddl = fmt.Sprintf(`CREATE OR REPLACE FUNCTION %s(p_now BIGINT, p_held BIGINT, p_candidates INTEGER, p_worker TEXT, p_until BIGINT)
RETURNS SETOF stripe_event LANGUAGE plpgsql VOLATILE AS $claim$%s$claim$`, name, body)
	return name, ddl
}

// claimFunctionLock serialises the definition among processes starting at
// once: concurrent CREATE OR REPLACE of one function fails.
const claimFunctionLock = `SELECT pg_advisory_xact_lock(hashtextextended('define claim function', 7888181691312336997))`

// defineClaimFunction defines this version's claim function on PostgreSQL.
func (db *Database) defineClaimFunction(ctx context.Context) error {
	if db.Dialect != dbutil.Postgres {
		return nil
	}
	return db.DoTxn(ctx, nil, func(ctx context.Context) error {
		if _, err := db.Exec(ctx, claimFunctionLock); err != nil {
			return err
		}
		_, err := db.Exec(ctx, claimFunctionDDL)
		return err
	})
}

package database

import (
	"context"
	"sync"
	"testing"

	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// Processes starting at once on one database all define the claim function
// (concurrent CREATE OR REPLACE of one function would fail one of them),
// and it is named after its body, so a version with another claim defines
// another function instead of replacing the one a running process calls.
func TestClaimFunctionDefinedByConcurrentStarts(t *testing.T) {
	uri := dbtest.PostgresURI(t)
	const processes = 4
	dbs := make([]*Database, processes)
	for i := range dbs {
		raw, err := dbutil.NewWithDialect(uri, "postgres")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = raw.Close() })
		dbs[i] = New(raw)
	}
	// The tables first, as the first process to start would have left them.
	if err := dbs[0].Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, processes)
	for _, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.defineClaimFunction(context.Background())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("define the claim function: %v", err)
		}
	}
	var defined int
	err := dbs[0].QueryRow(context.Background(), `SELECT COUNT(*) FROM pg_proc WHERE proname=$1`, claimFunctionName).Scan(&defined)
	if err != nil || defined != 1 {
		t.Fatalf("%d functions named %s (%v), want 1", defined, claimFunctionName, err)
	}
	if name, _ := claimFunction(); name != claimFunctionName {
		t.Errorf("the name is not stable: %s, then %s", claimFunctionName, name)
	}
}

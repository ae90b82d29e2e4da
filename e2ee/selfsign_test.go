package e2ee

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/database/upgrades"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// The recovery key goes into the database encrypted with the pickle key,
// comes back whole with it, and not at all with another key.
func TestRecoveryKeyStorage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbutil.Database) {
		ctx := context.Background()
		db.UpgradeTable = upgrades.Table
		if err := db.Upgrade(ctx); err != nil {
			t.Fatal(err)
		}
		d := &Device{opts: Options{DB: db, PickleKey: "the pickle key of this test"}}
		if got, err := d.recoveryKey(ctx); err != nil || got != "" {
			t.Fatalf("before any: %q %v", got, err)
		}
		const key = "EsTc 9Tnp k5Lh ZmDd iJ2W 8Upt Lt1r e7Yx 4Mwz Qc8H bJdk NSaL"
		for _, k := range []string{"an earlier key", key} { // the second replaces the first
			if err := d.saveRecoveryKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		var stored string
		if err := db.QueryRow(ctx, `SELECT value FROM bridge_secret WHERE name='recovery_key'`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored, "EsTc") {
			t.Errorf("stored in the clear: %q", stored)
		}
		if got, err := d.recoveryKey(ctx); err != nil || got != key {
			t.Errorf("read back %q, %v", got, err)
		}
		other := &Device{opts: Options{DB: db, PickleKey: "another pickle key entirely"}}
		if got, err := other.recoveryKey(ctx); !errors.Is(err, ErrSelfSign) || got != "" {
			t.Errorf("with another pickle key: %q, %v", got, err)
		}
	})
}

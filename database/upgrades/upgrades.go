// Package upgrades holds the numbered SQL migrations of the bridge's own tables.
package upgrades

import (
	"embed"

	"go.mau.fi/util/dbutil"
)

//go:embed *.sql
var rawUpgrades embed.FS

// Table is the upgrade path of the bridge's tables: 00-latest.sql creates a
// fresh database directly at the newest version, the numbered files move an
// existing one forward a step at a time.
var Table = dbutil.BuildUpgradeTable().
	WithFS(rawUpgrades).
	Finish()

package upgrades_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"go.mau.fi/util/dbutil"
)

// dumpSQLite describes every table, column, index and foreign key, one line
// each, in a stable order and in terms that do not depend on how the CREATE
// statements were written.
func dumpSQLite(t *testing.T, db *dbutil.Database) []string {
	t.Helper()
	tables := queryLines(t, db, `SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	var out []string
	for _, table := range tables {
		for _, col := range queryLines(t, db, `
			SELECT cid, name, type, "notnull", COALESCE(dflt_value, '<none>'), pk
			FROM pragma_table_info($1) ORDER BY cid`, table) {
			out = append(out, "column "+table+": "+col)
		}
		indexes := queryLines(t, db, `SELECT name FROM pragma_index_list($1) ORDER BY name`, table)
		for _, index := range indexes {
			info := queryLines(t, db, `SELECT "unique", origin, partial FROM pragma_index_list($1) WHERE name=$2`, table, index)
			cols := queryLines(t, db, `SELECT COALESCE(name, '<expr>') FROM pragma_index_info($1) ORDER BY seqno`, index)
			out = append(out, fmt.Sprintf("index %s: %s %s (%s)", table, index, info[0], strings.Join(cols, ", ")))
		}
		for _, fk := range queryLines(t, db, `
			SELECT seq, "table", "from", "to", on_update, on_delete, match
			FROM pragma_foreign_key_list($1) ORDER BY id, seq`, table) {
			out = append(out, "foreign key "+table+": "+fk)
		}
	}
	return out
}

// dumpPostgres does the same for the current schema from the catalogs.
func dumpPostgres(t *testing.T, db *dbutil.Database) []string {
	t.Helper()
	var out []string
	for _, col := range queryLines(t, db, `
		SELECT table_name, ordinal_position, column_name, data_type, is_nullable, COALESCE(column_default, '<none>')
		FROM information_schema.columns
		WHERE table_schema=current_schema()
		ORDER BY table_name, ordinal_position`) {
		out = append(out, "column "+col)
	}
	for _, index := range queryLines(t, db, `
		SELECT tablename, indexname, indexdef
		FROM pg_indexes
		WHERE schemaname=current_schema()
		ORDER BY tablename, indexname`) {
		out = append(out, "index "+index)
	}
	for _, constraint := range queryLines(t, db, `
		SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
		FROM pg_constraint
		WHERE connamespace=current_schema()::regnamespace
		ORDER BY 1, 2`) {
		out = append(out, "constraint "+constraint)
	}
	for _, seq := range queryLines(t, db, `
		SELECT sequence_name, data_type, start_value, increment
		FROM information_schema.sequences
		WHERE sequence_schema=current_schema()
		ORDER BY sequence_name`) {
		out = append(out, "sequence "+seq)
	}
	return out
}

// queryLines returns each row's columns joined by " | ".
func queryLines(t *testing.T, db *dbutil.Database, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		values := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range values {
			ptrs[i] = &values[i]
		}
		if err = rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(values))
		for i, v := range values {
			parts[i] = v.String
		}
		lines = append(lines, strings.Join(parts, " | "))
	}
	if err = rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

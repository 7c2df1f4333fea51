package projection

import "testing"

func TestRenameDDL(t *testing.T) {
	t.Parallel()
	tables := []struct{ in, want string }{
		{"CREATE TABLE quotations (\n    id TEXT PRIMARY KEY)", `CREATE TABLE "quotations_rebuild" (` + "\n    id TEXT PRIMARY KEY)"},
		{`CREATE TABLE "quotations" (id TEXT)`, `CREATE TABLE "quotations_rebuild" (id TEXT)`},
		{`create table if not exists [quotations](id TEXT)`, `CREATE TABLE "quotations_rebuild"(id TEXT)`},
	}
	for _, tc := range tables {
		got, err := renameTableDDL(tc.in, "quotations_rebuild")
		if err != nil || got != tc.want {
			t.Errorf("renameTableDDL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	indexes := []struct{ in, want string }{
		{"CREATE INDEX idx_q ON quotations (customer_id, created_at)", `CREATE INDEX "idx_q_rebuild" ON "quotations_rebuild" (customer_id, created_at)`},
		{`CREATE UNIQUE INDEX "idx q" ON "quotations"(x)`, `CREATE UNIQUE INDEX "idx_q_rebuild" ON "quotations_rebuild"(x)`},
		{`CREATE INDEX IF NOT EXISTS idx_q ON quotations (x) WHERE x > 0`, `CREATE INDEX "idx_q_rebuild" ON "quotations_rebuild" (x) WHERE x > 0`},
	}
	for _, tc := range indexes {
		got, err := renameIndexDDL(tc.in, "idx_q_rebuild", "quotations_rebuild")
		if err != nil || got != tc.want {
			t.Errorf("renameIndexDDL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"CREATE VIEW v AS SELECT 1", "ALTER TABLE x ADD y"} {
		if _, err := renameIndexDDL(bad, "i", "t"); err == nil {
			t.Errorf("renameIndexDDL(%q): want an error", bad)
		}
		if _, err := renameTableDDL(bad, "t"); err == nil {
			t.Errorf("renameTableDDL(%q): want an error", bad)
		}
	}
}

func TestIndexShape(t *testing.T) {
	t.Parallel()
	a := indexShape("CREATE UNIQUE INDEX quotations_pkey ON t_1.quotations USING btree (id)")
	b := indexShape("CREATE UNIQUE INDEX quotations_rebuild_pkey ON t_1.quotations_rebuild USING btree (id)")
	c := indexShape("CREATE INDEX idx ON t_1.quotations USING btree (id)")
	if a != b || a == c || a != "CREATE UNIQUE INDEX USING btree (id)" {
		t.Errorf("shapes %q, %q, %q", a, b, c)
	}
}

package config_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/config"
)

func TestParseDatabaseURL(t *testing.T) {
	t.Parallel()

	const forms = "one of sqlite:///abs/path.db, sqlite://./rel.db, a file path such as insure.db, " +
		"or postgres://user:password@host:5432/dbname"
	tests := []struct {
		in      string
		want    config.DatabaseTarget
		wantErr string
	}{
		// SQLite.
		{in: "sqlite:///abs/path.db", want: config.DatabaseTarget{Driver: "sqlite", Path: "/abs/path.db"}},
		{in: "sqlite://./rel.db", want: config.DatabaseTarget{Driver: "sqlite", Path: "./rel.db"}},
		{in: "SQLite://rel.db", want: config.DatabaseTarget{Driver: "sqlite", Path: "rel.db"}},
		{in: "insure.db", want: config.DatabaseTarget{Driver: "sqlite", Path: "insure.db"}},
		{in: " /tmp/x.db\n", want: config.DatabaseTarget{Driver: "sqlite", Path: "/tmp/x.db"}},
		{in: "./data/my insure.db", want: config.DatabaseTarget{Driver: "sqlite", Path: "./data/my insure.db"}},
		{in: "./backup:2024.db", want: config.DatabaseTarget{Driver: "sqlite", Path: "./backup:2024.db"}},
		{in: `C:\insure\insure.db`, want: config.DatabaseTarget{Driver: "sqlite", Path: `C:\insure\insure.db`}},

		// PostgreSQL.
		{
			in:   "postgres://app:s3cret@db:5432/insure?sslmode=disable",
			want: config.DatabaseTarget{Driver: "postgres", URL: "postgres://app:s3cret@db:5432/insure?sslmode=disable"},
		},
		{in: "postgresql://localhost/insure", want: config.DatabaseTarget{Driver: "postgres", URL: "postgresql://localhost/insure"}},
		{in: "postgres:///insure", want: config.DatabaseTarget{Driver: "postgres", URL: "postgres:///insure"}},

		// Errors.
		{in: "", wantErr: `DATABASE_URL="": expected ` + forms},
		{in: "  ", wantErr: `DATABASE_URL="": expected ` + forms},
		{
			in:      "sqlite://",
			wantErr: `DATABASE_URL="sqlite://": expected a file path after sqlite:// (e.g. sqlite://./insure.db or sqlite:///var/lib/insure/insure.db)`,
		},
		{
			in: ":memory:",
			wantErr: `DATABASE_URL=":memory:": expected a database file, not an in-memory database: the queue needs one file ` +
				`shared by every connection pool; for tests use a temporary file (e.g. sqlite:///tmp/insure-test.db)`,
		},
		{
			in: "sqlite://:memory:",
			wantErr: `DATABASE_URL="sqlite://:memory:": expected a database file, not an in-memory database: the queue needs one file ` +
				`shared by every connection pool; for tests use a temporary file (e.g. sqlite:///tmp/insure-test.db)`,
		},
		{
			in: "file::memory:?cache=shared",
			wantErr: `DATABASE_URL="file::memory:?cache=shared": expected a database file, not an in-memory database: the queue needs one file ` +
				`shared by every connection pool; for tests use a temporary file (e.g. sqlite:///tmp/insure-test.db)`,
		},
		{
			in:      "file:insure.db",
			wantErr: `DATABASE_URL="file:insure.db": expected a plain file path, not a SQLite "file:" URI (e.g. sqlite://./insure.db); the driver adds its own options`,
		},
		{
			in:      "sqlite://./insure.db?_pragma=synchronous(OFF)",
			wantErr: `DATABASE_URL="sqlite://./insure.db?_pragma=synchronous(OFF)": expected a plain file path without "?" options (e.g. sqlite://./insure.db); set the synchronous mode with SQLITE_SYNCHRONOUS`,
		},
		{
			in:      "mysql://root:hunter2@db/insure",
			wantErr: `DATABASE_URL="mysql://root:xxxxx@db/insure": expected ` + forms + `; "mysql://" is not supported`,
		},
		{
			in:      "sqlite:insure.db",
			wantErr: `DATABASE_URL="sqlite:insure.db": expected ` + forms + `; "sqlite:" looks like a URL scheme without "//" (for a file whose name contains a colon, start the path with ./)`,
		},
		{
			in:      "postgres:app:hunter2@db/insure",
			wantErr: `DATABASE_URL="postgres:xxxxx@db/insure": expected ` + forms + `; "postgres:" looks like a URL scheme without "//" (for a file whose name contains a colon, start the path with ./)`,
		},
		{
			in:      "host=db user=app password='hunter 2' dbname=insure",
			wantErr: `DATABASE_URL="host=db user=app password=xxxxx dbname=insure": expected ` + forms + `; this looks like a PostgreSQL key=value string: write it as postgres://user:password@host:5432/dbname`,
		},
		{
			in:      "postgres://db:port/insure",
			wantErr: `DATABASE_URL="postgres://db:port/insure": expected a valid postgres:// URL (percent-encode reserved characters in the user name and password, e.g. "@" as %40): invalid port ":port" after host`,
		},
		{
			in:      "postgres://app:p%zz@db/insure",
			wantErr: `DATABASE_URL="postgres://app:xxxxx@db/insure": expected a valid postgres:// URL (percent-encode reserved characters in the user name and password, e.g. "@" as %40)`,
		},
		{
			in:      "./odd://name.db",
			wantErr: `DATABASE_URL="./odd://name.db": expected ` + forms,
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseDatabaseURL(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseDatabaseURL(%q) = %+v, want error %s", tt.in, got, tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
					t.Errorf("ParseDatabaseURL(%q) error mismatch (-want +got):\n%s", tt.in, diff)
				}
				if diff := cmp.Diff(config.DatabaseTarget{}, got); diff != "" {
					t.Errorf("ParseDatabaseURL(%q) returned a target with its error:\n%s", tt.in, diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDatabaseURL(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseDatabaseURL(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestConfigDatabase(t *testing.T) {
	t.Parallel()

	got, err := config.Default().Database()
	if err != nil {
		t.Fatalf("Default().Database() error: %v", err)
	}
	if diff := cmp.Diff(config.DatabaseTarget{Driver: config.DriverSQLite, Path: "./insure.db"}, got); diff != "" {
		t.Errorf("Default().Database() mismatch (-want +got):\n%s", diff)
	}
}

func TestRedactDatabaseURL(t *testing.T) {
	t.Parallel()

	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@db:5432/insure", "postgres://app:xxxxx@db:5432/insure"},
		{"postgres://app@db:5432/insure", "postgres://app@db:5432/insure"},
		{"postgres://:s3cret@db/insure", "postgres://:xxxxx@db/insure"},
		{"postgres://app:p@ss/w?rd@db/insure", "postgres://app:xxxxx@db/insure"},
		{"postgres://db/insure?user=app&password=s3cret&sslmode=require", "postgres://db/insure?user=app&password=xxxxx&sslmode=require"},
		{"postgres://db/insure?sslpassword=s3cret", "postgres://db/insure?sslpassword=xxxxx"},
		{"host=db password=s3cret dbname=insure", "host=db password=xxxxx dbname=insure"},
		{"host=db password = 'it''s secret' dbname=insure", "host=db password = xxxxx dbname=insure"},
		{"mysql:root:s3cret@db://x", "mysql:xxxxx@db://x"},
		{"sqlite://./insure.db", "sqlite://./insure.db"},
		{"smtp://mailer:s3cret@mail.example.com:587?security=starttls", "smtp://mailer:xxxxx@mail.example.com:587?security=starttls"},
		{"smtps://:s3cret@mail.example.com", "smtps://:xxxxx@mail.example.com"},
		{"smtp://mailer@mail.example.com", "smtp://mailer@mail.example.com"},
		{"smtp://mailer:p@ss?w#rd@mail.example.com?helo=x", "smtp://mailer:xxxxx@mail.example.com?helo=x"},
		{"https://graph.facebook.com", "https://graph.facebook.com"},
		{"insure.db", "insure.db"},
	}
	for _, tt := range tests {
		if got := config.RedactDatabaseURL(tt.in); got != tt.want {
			t.Errorf("RedactDatabaseURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

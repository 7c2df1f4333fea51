package cli

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"

	"insure/internal/customer"
	"insure/internal/database"
	"insure/internal/event"
)

// BenchmarkRegister measures one registration command: validation, the
// event append, the read-model row, the email claim and three listener jobs,
// all committed in one transaction. Workers are off, so only the command is
// measured.
func BenchmarkRegister(b *testing.B) {
	for _, tc := range []struct {
		name    string
		dialect database.Dialect
		sync    string
	}{
		{"sqlite-full", database.SQLite, "FULL"},
		{"sqlite-normal", database.SQLite, "NORMAL"},
		{"postgres", database.Postgres, ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := benchConfig(b, tc.dialect)
			if tc.sync != "" {
				cfg.SQLiteSynchronous = tc.sync
			}
			ctx := context.Background()
			s, err := Open(ctx, cfg, newLogger(cfg, io.Discard), Options{Migrate: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var n atomic.Int64
			ec := event.Context{Actor: "bench", Channel: "bench"}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					_, err := s.Customers.Register(ctx, ec, customer.Register{Name: "Bench Customer",
						Email: fmt.Sprintf("bench%d@example.com", i), Phone: fmt.Sprintf("98%08d", i)})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
		})
	}
}

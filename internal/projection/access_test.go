package projection_test

import (
	"context"
	"testing"
	"time"

	"insure/internal/apperr"
	"insure/internal/audit"
	"insure/internal/database"
	"insure/internal/database/dbtest"
	"insure/internal/event"
	"insure/internal/projection"
)

func TestAccessLog(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db database.DB) {
		ctx := context.Background()
		subject := event.NewID()
		base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		for i := 0; i < 5; i++ {
			s := subject
			if i == 2 {
				s = event.NewID() // another customer
			}
			env := event.Envelope{EventID: event.NewID(), EventName: audit.EventDataAccessed, AggregateType: audit.AccessAggregateType,
				AggregateID: event.NewID(), AggregateVersion: 1, OccurredAt: base.Add(time.Duration(i) * time.Second)}
			p := audit.DataAccessed{Actor: "token:ops", Role: "auditor", Action: audit.AccessCustomerProfile, SubjectType: "customer",
				SubjectID: s, IP: "10.0.0.1", UserAgent: "curl/8", RequestID: event.NewID()}
			if err := db.InTx(ctx, func(ctx context.Context, tx database.Tx) error {
				return projection.Projector{}.Project(ctx, tx, env, p)
			}); err != nil {
				t.Fatal(err)
			}
		}
		r := newReader(t, db)
		page, next, err := r.Accesses(ctx, subject, "", 3)
		if err != nil || len(page) != 3 || next == "" {
			t.Fatalf("first page: %d, %q, %v", len(page), next, err)
		}
		if page[0].Actor != "token:ops" || page[0].IP != "10.0.0.1" || page[0].SubjectID != subject || !page[0].AccessedAt.Equal(base) {
			t.Fatalf("entry %+v", page[0])
		}
		rest, next2, err := r.Accesses(ctx, subject, next, 3)
		if err != nil || len(rest) != 1 || next2 != "" {
			t.Fatalf("second page: %d, %q, %v", len(rest), next2, err)
		}
		all, _, err := r.Accesses(ctx, "", "", 100)
		if err != nil || len(all) != 5 {
			t.Fatalf("all: %d %v", len(all), err)
		}
		if _, _, err := r.Accesses(ctx, "", "garbage", 10); !apperr.IsCode(err, apperr.Invalid) {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

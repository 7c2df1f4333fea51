package projection

import (
	"context"

	"insure/internal/database"
	"insure/internal/document"
	"insure/internal/event"
)

// documentSQL is the documents read model's SQL for one target.
type documentSQL struct {
	requested, generated string
}

// documents is the documents read model: one row per requested PDF.
type documents struct{ sql [len(targets)]documentSQL }

func newDocuments() *documents {
	d := &documents{}
	for _, to := range targets {
		r := func(s string) string { return render(s, to, "documents") }
		d.sql[to] = documentSQL{
			requested: r(`INSERT INTO {documents} (id, kind, subject_type, subject_id, status, content_type, requested_at)
				VALUES ($1, $2, $3, $4, 'requested', 'application/pdf', $5)`),
			generated: r(`UPDATE {documents} SET status = 'generated', content_type = $2, size = $3, sha256 = $4, generated_at = $5 WHERE id = $1`),
		}
	}
	return d
}

func (*documents) Name() string { return NameDocuments }

func (*documents) Events() []string {
	return []string{document.GenerationRequested{}.EventName(), document.Generated{}.EventName()}
}

func (*documents) Tables() []string { return []string{"documents"} }

func (d *documents) Apply(ctx context.Context, tx database.Tx, to Target, env event.Envelope, p event.Payload) error {
	s := &d.sql[to]
	at := env.OccurredAt.UTC()
	if e, ok := event.As[document.GenerationRequested](p); ok {
		_, err := tx.Exec(ctx, s.requested, e.DocumentID, e.Kind, e.SubjectType, e.SubjectID, at)
		return err
	}
	if e, ok := event.As[document.Generated](p); ok {
		_, err := tx.Exec(ctx, s.generated, e.DocumentID, e.ContentType, e.Size, e.SHA256, at)
		return err
	}
	return nil
}

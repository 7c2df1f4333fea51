package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"insure/internal/apperr"
	"insure/internal/document"
	"insure/internal/event"
	"insure/internal/eventstore"
	"insure/internal/projection"
	"insure/internal/queue"
)

// EventQueries reads the global event stream.
type EventQueries struct{ Store *eventstore.Store }

// Read returns events after a position, at most the store's batch size.
func (q EventQueries) Read(ctx context.Context, after int64, limit int, types []string) ([]event.Envelope, int64, error) {
	envs, err := q.Store.ReadAll(ctx, q.Store.DB(), after, limit, types)
	if errors.Is(err, eventstore.ErrInvalid) {
		return nil, after, apperr.Field("after", "must be a position of zero or more")
	}
	if err != nil {
		return nil, after, apperr.Wrap(apperr.Unavailable, err, "read the event stream")
	}
	next := after
	if len(envs) > 0 {
		next = envs[len(envs)-1].Position
	}
	if envs == nil {
		envs = []event.Envelope{}
	}
	return envs, next, nil
}

// BatchSize is the most events Read returns (MAX_EVENTS_PER_BATCH).
func (q EventQueries) BatchSize() int { return q.Store.MaxBatch() }

// MessageQueries reads the communication log.
type MessageQueries struct{ Reader *projection.Reader }

// List lists messages.
func (q MessageQueries) List(ctx context.Context, customerID, channel, after string, limit int) ([]projection.Message, string, error) {
	return q.Reader.Messages(ctx, customerID, channel, after, limit)
}

// DocumentQueries opens generated documents.
type DocumentQueries struct {
	Reader *projection.Reader
	Files  *document.FileStore
}

// Open returns a generated document's bytes. A document that is requested
// but not yet rendered is reported as not found (yet); one whose customer's
// data was erased is Gone.
func (q DocumentQueries) Open(ctx context.Context, id string) (io.ReadCloser, projection.Document, error) {
	d, err := q.Reader.Document(ctx, nil, id)
	if err != nil {
		return nil, d, err
	}
	if d.Status != "generated" {
		return nil, d, apperr.New(apperr.NotFound, "document %s is not generated yet; try again shortly", id)
	}
	rc, _, err := q.Files.Open(ctx, id)
	if errors.Is(err, document.ErrNotFound) {
		return nil, d, apperr.Wrap(apperr.Internal, err, "document %s is recorded but its file is missing", id)
	}
	if errors.Is(err, document.ErrErased) {
		return nil, d, apperr.Wrap(apperr.Gone, err, "document %s held personal data of a customer whose data was erased; it can no longer be read", id)
	}
	if err != nil {
		return nil, d, fmt.Errorf("open document %s: %w", id, err)
	}
	return rc, d, nil
}

// DeadLetterQueries lists and retries dead letters.
type DeadLetterQueries struct{ Queue *queue.Queue }

// List lists unresolved dead letters.
func (q DeadLetterQueries) List(ctx context.Context, after int64, limit int) ([]queue.DeadLetter, error) {
	dls, err := q.Queue.DeadLetters(ctx, "dead", after, limit)
	if dls == nil {
		dls = []queue.DeadLetter{}
	}
	return dls, err
}

// Retry retries one dead letter.
func (q DeadLetterQueries) Retry(ctx context.Context, id int64) (queue.DeadLetter, error) {
	d, err := q.Queue.Retry(ctx, id)
	switch {
	case errors.Is(err, queue.ErrDeadLetterNotFound):
		return d, apperr.New(apperr.NotFound, "dead letter %d not found", id)
	case errors.Is(err, queue.ErrAlreadyResolved):
		return d, apperr.Wrap(apperr.Conflict, err, "dead letter %d was already retried or discarded", id)
	case errors.Is(err, queue.ErrJobBusy):
		return d, apperr.Wrap(apperr.Conflict, err, "dead letter %d: its job is still finishing its last attempt; try again in a moment", id)
	}
	return d, err
}

// Discard discards one dead letter: its job never runs again.
func (q DeadLetterQueries) Discard(ctx context.Context, id int64) (queue.DeadLetter, error) {
	d, err := q.Queue.Discard(ctx, id)
	switch {
	case errors.Is(err, queue.ErrDeadLetterNotFound):
		return d, apperr.New(apperr.NotFound, "dead letter %d not found", id)
	case errors.Is(err, queue.ErrAlreadyResolved):
		return d, apperr.Wrap(apperr.Conflict, err, "dead letter %d was already retried or discarded", id)
	}
	return d, err
}

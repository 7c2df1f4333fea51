package recorder

import (
	"context"
	"sync"
)

// PositionSink receives the position of the last event Record commits with
// a context that carries it (see WithPositionSink): how an HTTP write tells
// its client which position to wait for before reading (read your writes)
// without changing the signature of every service in between. It is safe
// for concurrent use; the zero value holds nothing.
type PositionSink struct {
	mu  sync.Mutex
	pos int64
	set bool
}

type positionSinkKey struct{}

// WithPositionSink returns ctx carrying a new, empty sink, and the sink.
func WithPositionSink(ctx context.Context) (context.Context, *PositionSink) {
	s := &PositionSink{}
	return context.WithValue(ctx, positionSinkKey{}, s), s
}

// positionSinkFrom returns the sink ctx carries, or nil.
func positionSinkFrom(ctx context.Context) *PositionSink {
	s, _ := ctx.Value(positionSinkKey{}).(*PositionSink)
	return s
}

// ObservePosition has the sink ctx carries, if any, observe pos: for
// callers that commit events through their own transactions (RecordTx).
func ObservePosition(ctx context.Context, pos int64) {
	positionSinkFrom(ctx).Observe(pos)
}

// Observe records that an event at pos was committed. The sink keeps the
// highest position it has seen, so a request that commits more than once
// reports its last commit.
func (s *PositionSink) Observe(pos int64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.set || pos > s.pos {
		s.pos, s.set = pos, true
	}
}

// Position returns the highest position observed; ok is false when nothing
// was committed (an idempotent no-op, or a failure).
func (s *PositionSink) Position() (pos int64, ok bool) {
	if s == nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos, s.set
}

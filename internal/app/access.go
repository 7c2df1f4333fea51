package app

import (
	"context"

	"insure/internal/audit"
	"insure/internal/event"
	"insure/internal/projection"
	"insure/internal/recorder"
)

// AccessService records who read personal, event or audit data, and lists
// those records for auditors.
type AccessService struct{ Deps }

// NewAccessService returns the service.
func NewAccessService(d Deps) *AccessService { return &AccessService{d} }

// Record records one read. ec says who and from where; role is the
// reader's role.
func (s *AccessService) Record(ctx context.Context, ec event.Context, role, action, subjectType, subjectID string) (err error) {
	ctx, end := s.startCommand(ctx, "RecordDataAccess")
	defer func() { end(err) }()
	id := event.NewID()
	_, err = s.Recorder.Record(ctx, ec, nil, recorder.Change{AggregateType: audit.AccessAggregateType, AggregateID: id,
		Events: []event.Payload{&audit.DataAccessed{Actor: ec.Actor, Role: role, Action: action, SubjectType: subjectType,
			SubjectID: subjectID, IP: ec.IP, UserAgent: ec.UserAgent, RequestID: ec.CorrelationID}}})
	return err
}

// List lists recorded reads, optionally of one subject.
func (s *AccessService) List(ctx context.Context, subject, after string, limit int) ([]projection.Access, string, error) {
	return s.Reader.Accesses(ctx, subject, after, limit)
}

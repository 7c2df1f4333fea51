package listener

import (
	"encoding/json"
	"time"

	"insure/internal/apperr"
	"insure/internal/event"
	"insure/internal/queue"
	"insure/internal/recorder"
)

type timeLike = time.Time

func permanent(err error) error { return queue.Permanent(err) }

func retryLater(err error) error { return queue.RetryLater(err) }

func retryAfter(err error, d time.Duration) error { return queue.RetryAfter(err, d) }

func isConflict(err error) bool { return apperr.IsCode(err, apperr.Conflict) }

func recorderChange(aggregateType, id string, expected int64, evs ...event.Payload) recorder.Change {
	return recorder.Change{AggregateType: aggregateType, AggregateID: id, ExpectedVersion: expected, Events: evs}
}

func decodeJSON(raw []byte, v any) error { return json.Unmarshal(raw, v) }

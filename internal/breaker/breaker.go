// Package breaker puts one circuit breaker in front of each outbound
// provider (SMTP, the WhatsApp Cloud API). While a provider keeps failing,
// its breaker opens and further sends fail at once with ErrOpen, which wraps
// notify.ErrUnavailable: the listener then releases the job for later
// instead of burning an attempt. After a pause one trial send goes through;
// if it succeeds the breaker closes and everything that waited is sent.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"insure/internal/notify"
)

// ErrOpen is returned while a provider's breaker is open. It wraps
// notify.ErrUnavailable.
var ErrOpen = fmt.Errorf("circuit breaker open: the provider failed repeatedly and is rested before the next try: %w", notify.ErrUnavailable)

// Status is one breaker's state, for readiness checks and the API.
type Status struct {
	Name                string `json:"name"`
	State               string `json:"state"` // closed | half-open | open
	ConsecutiveFailures uint32 `json:"consecutive_failures"`
}

// Set holds the breakers of one process.
type Set struct {
	failures int
	openFor  time.Duration
	log      *slog.Logger

	mu       sync.Mutex
	breakers map[string]*gobreaker.CircuitBreaker[notify.Receipt]
}

// NewSet returns a set whose breakers open after failures consecutive
// failures and stay open for openFor.
func NewSet(failures int, openFor time.Duration, logger *slog.Logger) *Set {
	if failures < 1 {
		failures = 5
	}
	if openFor <= 0 {
		openFor = 30 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Set{failures: failures, openFor: openFor, log: logger, breakers: map[string]*gobreaker.CircuitBreaker[notify.Receipt]{}}
}

// failed reports whether err says the provider is failing (rather than
// refusing one message, or asking us to slow down).
func failed(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, notify.ErrRejected), errors.Is(err, notify.ErrInvalid):
		return false // the provider answered: it is up
	}
	return true
}

func excluded(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, notify.ErrRateLimited)
}

func (s *Set) breaker(name string) *gobreaker.CircuitBreaker[notify.Receipt] {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.breakers[name]; ok {
		return b
	}
	threshold := uint32(s.failures)
	b := gobreaker.NewCircuitBreaker[notify.Receipt](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     s.openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		OnStateChange: func(name string, from, to gobreaker.State) {
			s.log.Warn("circuit breaker", "provider", name, "from", from.String(), "to", to.String())
		},
		IsSuccessful: func(err error) bool { return !failed(err) },
		IsExcluded:   excluded,
	})
	s.breakers[name] = b
	return b
}

func (s *Set) call(name string, send func() (notify.Receipt, error)) (notify.Receipt, error) {
	r, err := s.breaker(name).Execute(send)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return r, fmt.Errorf("%s: %w", name, ErrOpen)
	}
	return r, err
}

// Statuses returns every breaker's state, sorted by name.
func (s *Set) Statuses() []Status {
	s.mu.Lock()
	names := make([]string, 0, len(s.breakers))
	for n := range s.breakers {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	out := make([]Status, 0, len(names))
	for _, n := range names {
		b := s.breaker(n)
		out = append(out, Status{Name: n, State: b.State().String(), ConsecutiveFailures: b.Counts().ConsecutiveFailures})
	}
	return out
}

// Mailer wraps m with the breaker called name (created now, closed).
func (s *Set) Mailer(name string, m notify.Mailer) notify.Mailer {
	s.breaker(name)
	return mailer{s: s, name: name, next: m}
}

// WhatsApp wraps w with the breaker called name.
func (s *Set) WhatsApp(name string, w notify.WhatsAppSender) notify.WhatsAppSender {
	s.breaker(name)
	return whatsApp{s: s, name: name, next: w}
}

type mailer struct {
	s    *Set
	name string
	next notify.Mailer
}

func (m mailer) Send(ctx context.Context, e notify.Email) (notify.Receipt, error) {
	return m.s.call(m.name, func() (notify.Receipt, error) { return m.next.Send(ctx, e) })
}

type whatsApp struct {
	s    *Set
	name string
	next notify.WhatsAppSender
}

func (w whatsApp) Send(ctx context.Context, msg notify.WhatsApp) (notify.Receipt, error) {
	return w.s.call(w.name, func() (notify.Receipt, error) { return w.next.Send(ctx, msg) })
}

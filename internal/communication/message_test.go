package communication_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/communication"
	"insure/internal/event"
)

func TestTemplates(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]string{"welcome", "admin_registration", "quotation", "renewal_reminder", "policy_confirmation"}, communication.EmailTemplates()); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"quotation", "renewal_reminder", "policy_confirmation"}, communication.WhatsAppTemplates()); diff != "" {
		t.Error(diff)
	}
}

func TestQueueEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  communication.Email
		want *communication.EmailQueued
	}{
		{"customer mail with attachment", customerEmail(), &communication.EmailQueued{
			MessageID: msgID, CustomerID: custID, RecipientRole: "customer", Template: "policy_confirmation", Priority: "high",
			Attachments:   []communication.Attachment{{DocumentID: docID, Name: "policy.pdf", ContentType: "application/pdf"}},
			SourceEventID: srcID,
		}},
		{"admin mail, default priority", communication.Email{RecipientRole: "admin", Template: "admin_registration", SourceEventID: srcID},
			&communication.EmailQueued{MessageID: msgID, RecipientRole: "admin", Template: "admin_registration", Priority: "normal",
				Attachments: []communication.Attachment{}, SourceEventID: srcID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps, err := communication.QueueEmail(msgID, tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]event.Payload{tt.want}, ps); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
			if err := ps[0].(*communication.EmailQueued).Validate(); err != nil {
				t.Fatalf("decided event does not validate: %v", err)
			}
		})
	}
}

func TestQueueEmailValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*communication.Email)
		field string
	}{
		{"unknown template", func(c *communication.Email) { c.Template = "birthday" }, "template"},
		{"no template", func(c *communication.Email) { c.Template = "" }, "template"},
		{"unknown role", func(c *communication.Email) { c.RecipientRole = "agent" }, "recipient_role"},
		{"no role", func(c *communication.Email) { c.RecipientRole = "" }, "recipient_role"},
		{"admin template to customer", func(c *communication.Email) { c.Template = "admin_registration" }, "recipient_role"},
		{"customer template to admin", func(c *communication.Email) { c.RecipientRole = "admin"; c.CustomerID = "" }, "recipient_role"},
		{"admin mail with customer", func(c *communication.Email) { c.RecipientRole = "admin"; c.Template = "admin_registration" }, "customer_id"},
		{"customer mail without customer", func(c *communication.Email) { c.CustomerID = "" }, "customer_id"},
		{"customer not a UUID", func(c *communication.Email) { c.CustomerID = "c-1" }, "customer_id"},
		{"bad priority", func(c *communication.Email) { c.Priority = "urgent" }, "priority"},
		{"attachment without document", func(c *communication.Email) { c.Attachments[0].DocumentID = "" }, "attachments"},
		{"attachment without name", func(c *communication.Email) { c.Attachments[0].Name = " " }, "attachments"},
		{"attachment without type", func(c *communication.Email) { c.Attachments[0].ContentType = "" }, "attachments"},
		{"too many attachments", func(c *communication.Email) {
			c.Attachments = make([]communication.Attachment, 11)
			for i := range c.Attachments {
				c.Attachments[i] = communication.Attachment{DocumentID: docID, Name: "a.pdf", ContentType: "application/pdf"}
			}
		}, "attachments"},
		{"no source event", func(c *communication.Email) { c.SourceEventID = "" }, "source_event_id"},
		{"source not a UUID", func(c *communication.Email) { c.SourceEventID = "evt-1" }, "source_event_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := customerEmail()
			tt.edit(&cmd)
			ps, err := communication.QueueEmail(msgID, cmd)
			wantField(t, err, tt.field)
			if ps != nil {
				t.Fatalf("events on error: %v", ps)
			}
		})
	}
	if _, err := communication.QueueEmail("m-1", customerEmail()); err == nil {
		t.Fatal("no error for an id that is not a UUID")
	}
}

func TestQueueWhatsApp(t *testing.T) {
	t.Parallel()
	cmd := whatsApp()
	cmd.DocumentID = docID
	ps, err := communication.QueueWhatsApp(msgID, cmd)
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Payload{&communication.WhatsAppMessageQueued{MessageID: msgID, CustomerID: custID, Template: "quotation",
		Priority: "normal", DocumentID: docID, SourceEventID: srcID}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}

	tests := []struct {
		name  string
		edit  func(*communication.WhatsApp)
		field string
	}{
		{"no customer", func(c *communication.WhatsApp) { c.CustomerID = "" }, "customer_id"},
		{"welcome is e-mail only", func(c *communication.WhatsApp) { c.Template = "welcome" }, "template"},
		{"admin template", func(c *communication.WhatsApp) { c.Template = "admin_registration" }, "template"},
		{"bad priority", func(c *communication.WhatsApp) { c.Priority = "low" }, "priority"},
		{"no source", func(c *communication.WhatsApp) { c.SourceEventID = "" }, "source_event_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := whatsApp()
			tt.edit(&cmd)
			_, err := communication.QueueWhatsApp(msgID, cmd)
			wantField(t, err, tt.field)
		})
	}
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	type mark func(m *communication.Message) ([]event.Payload, error)
	sent := func(id string) mark {
		return func(m *communication.Message) ([]event.Payload, error) { return m.MarkSent(id, now) }
	}
	failed := func(r string) mark {
		return func(m *communication.Message) ([]event.Payload, error) { return m.MarkFailed(r, now) }
	}
	skipped := func(r string) mark {
		return func(m *communication.Message) ([]event.Payload, error) { return m.MarkSkipped(r, now) }
	}
	tests := []struct {
		name    string
		channel string
		from    string
		do      mark
		want    event.Payload // nil: no events
		code    apperr.Code
		field   string
	}{
		{"queued to sent", "email", "queued", sent(" prov-9 "), &communication.MessageSent{MessageID: msgID, Channel: "email", ProviderMessageID: "prov-9", SentAt: now}, "", ""},
		{"queued to failed", "whatsapp", "queued", failed("invalid number"), &communication.MessageFailed{MessageID: msgID, Channel: "whatsapp", Reason: "invalid number"}, "", ""},
		{"queued to skipped", "whatsapp", "queued", skipped("WhatsApp is disabled"), &communication.MessageSkipped{MessageID: msgID, Channel: "whatsapp", Reason: "WhatsApp is disabled"}, "", ""},
		{"sent again", "email", "sent", sent("prov-2"), nil, "", ""},
		{"failed again", "email", "failed", failed("again"), nil, "", ""},
		{"skipped again", "email", "skipped", skipped(""), nil, "", ""},
		{"sent then failed", "email", "sent", failed("x"), nil, apperr.Conflict, ""},
		{"sent then skipped", "email", "sent", skipped("x"), nil, apperr.Conflict, ""},
		{"failed then sent", "email", "failed", sent("p"), nil, apperr.Conflict, ""},
		{"skipped then sent", "whatsapp", "skipped", sent("p"), nil, apperr.Conflict, ""},
		{"skipped then failed", "whatsapp", "skipped", failed("p"), nil, apperr.Conflict, ""},
		{"blank provider id", "email", "queued", sent("  "), nil, apperr.Invalid, "provider_message_id"},
		{"blank failure reason", "email", "queued", failed(""), nil, apperr.Invalid, "reason"},
		{"blank skip reason", "email", "queued", skipped("\t"), nil, apperr.Invalid, "reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := queued(t, tt.channel, tt.from)
			before := *m
			ps, err := tt.do(m)
			if diff := cmp.Diff(before, *m); diff != "" {
				t.Fatalf("decision changed the message:\n%s", diff)
			}
			if tt.code != "" {
				wantCode(t, err, tt.code)
				if tt.code == apperr.Invalid {
					wantField(t, err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if len(ps) != 0 {
					t.Fatalf("events = %v, want none", ps)
				}
				return
			}
			if diff := cmp.Diff([]event.Payload{tt.want}, ps); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
		})
	}
	var m communication.Message
	_, err := m.MarkSent("p", now)
	wantCode(t, err, apperr.NotFound)
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	tests := []struct {
		name   string
		queue  func() ([]event.Payload, error)
		finish func(m *communication.Message) ([]event.Payload, error)
		want   communication.Message
	}{
		{"email sent", func() ([]event.Payload, error) { return communication.QueueEmail(msgID, customerEmail()) },
			func(m *communication.Message) ([]event.Payload, error) {
				return m.MarkSent("prov-1", now.Add(time.Hour))
			},
			communication.Message{ID: msgID, Channel: "email", CustomerID: custID, RecipientRole: "customer", Template: "policy_confirmation",
				Priority:      "high",
				Attachments:   []communication.Attachment{{DocumentID: docID, Name: "policy.pdf", ContentType: "application/pdf"}},
				SourceEventID: srcID, Status: "sent", ProviderMessageID: "prov-1", SentAt: now.Add(time.Hour),
				Version: 2, QueuedAt: now, UpdatedAt: now.Add(time.Minute)}},
		{"whatsapp skipped", func() ([]event.Payload, error) { return communication.QueueWhatsApp(msgID, whatsApp()) },
			func(m *communication.Message) ([]event.Payload, error) {
				return m.MarkSkipped("customer opted out", now)
			},
			communication.Message{ID: msgID, Channel: "whatsapp", CustomerID: custID, RecipientRole: "customer", Template: "quotation",
				Priority: "normal", SourceEventID: srcID, Status: "skipped", Error: "customer opted out",
				Version: 2, QueuedAt: now, UpdatedAt: now.Add(time.Minute)}},
		{"admin email failed", func() ([]event.Payload, error) {
			return communication.QueueEmail(msgID, communication.Email{RecipientRole: "admin", Template: "admin_registration", SourceEventID: srcID})
		},
			func(m *communication.Message) ([]event.Payload, error) { return m.MarkFailed("smtp: 550", now) },
			communication.Message{ID: msgID, Channel: "email", RecipientRole: "admin", Template: "admin_registration",
				Priority: "normal", Attachments: []communication.Attachment{}, SourceEventID: srcID, Status: "failed", Error: "smtp: 550",
				Version: 2, QueuedAt: now, UpdatedAt: now.Add(time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := &communication.Message{}
			all := must(t)(tt.queue())
			apply(t, m, all)
			more := must(t)(tt.finish(m))
			apply(t, m, more)
			all = append(all, more...)
			envs := envelopes(t, msgID, 0, now, all...)
			got, err := communication.Rebuild(envs, reg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Fatalf("rebuilt message (-want +got):\n%s", diff)
			}
			for i, env := range envs {
				p, err := reg.Decode(env)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(all[i], p); diff != "" {
					t.Fatalf("event %d (-decided +decoded):\n%s", i, diff)
				}
			}
		})
	}
}

func TestRebuildErrors(t *testing.T) {
	t.Parallel()
	reg := setup(t)
	q := must(t)(communication.QueueWhatsApp(msgID, whatsApp()))[0]
	sent := &communication.MessageSent{MessageID: msgID, Channel: "whatsapp", ProviderMessageID: "p", SentAt: now}
	tests := []struct {
		name    string
		envs    func(t *testing.T) []event.Envelope
		wantErr string
	}{
		{"no events", func(t *testing.T) []event.Envelope { return nil }, "not found"},
		{"other aggregate type", func(t *testing.T) []event.Envelope {
			envs := envelopes(t, msgID, 0, now, q)
			envs[0].AggregateType = "customer"
			return envs
		}, `aggregate type "customer"`},
		{"other aggregate", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, msgID, 0, now, q), envelopes(t, otherID, 1, now, sent)...)
		}, "belongs to message"},
		{"payload for another message", func(t *testing.T) []event.Envelope { return envelopes(t, otherID, 0, now, q) }, "is for message"},
		{"gap", func(t *testing.T) []event.Envelope {
			return append(envelopes(t, msgID, 0, now, q), envelopes(t, msgID, 3, now, sent)...)
		}, "version 4, want 2"},
		{"outcome first", func(t *testing.T) []event.Envelope { return envelopes(t, msgID, 0, now, sent) }, "before the message was queued"},
		{"queued twice", func(t *testing.T) []event.Envelope { return envelopes(t, msgID, 0, now, q, q) }, "already queued"},
		{"two outcomes", func(t *testing.T) []event.Envelope { return envelopes(t, msgID, 0, now, q, sent, sent) }, "after the message was sent"},
		{"outcome on another channel", func(t *testing.T) []event.Envelope {
			s := *sent
			s.Channel = "email"
			return envelopes(t, msgID, 0, now, q, &s)
		}, `for channel "email"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := communication.Rebuild(tt.envs(t), reg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Rebuild = %+v, %v; want an error containing %q", m, err, tt.wantErr)
			}
		})
	}
}

type foreign struct{}

func (foreign) EventName() string { return "PolicyCreated" }

func TestApplyRejects(t *testing.T) {
	t.Parallel()
	m := queued(t, "email", "queued")
	before := *m
	for i, p := range []event.Payload{nil, foreign{}, (*communication.EmailQueued)(nil), (*communication.WhatsAppMessageQueued)(nil),
		(*communication.MessageSent)(nil), (*communication.MessageFailed)(nil), (*communication.MessageSkipped)(nil),
		&communication.MessageFailed{MessageID: otherID, Channel: "email", Reason: "x"}} {
		if err := m.Apply(p); err == nil {
			t.Errorf("Apply(#%d %T) succeeded", i, p)
		}
		if diff := cmp.Diff(before, *m); diff != "" {
			t.Fatalf("Apply(#%d) changed the message on error:\n%s", i, diff)
		}
	}
	if err := m.Apply(communication.MessageFailed{MessageID: msgID, Channel: "email", Reason: "x"}); err != nil || m.Status != "failed" {
		t.Fatalf("Apply(value) = %v, status %s", err, m.Status)
	}
}

func TestPayloadValidate(t *testing.T) {
	t.Parallel()
	eq := *must(t)(communication.QueueEmail(msgID, customerEmail()))[0].(*communication.EmailQueued)
	wq := *must(t)(communication.QueueWhatsApp(msgID, whatsApp()))[0].(*communication.WhatsAppMessageQueued)
	tests := []struct {
		name string
		p    interface{ Validate() error }
		ok   bool
	}{
		{"email", eq, true},
		{"email bad id", func() communication.EmailQueued { e := eq; e.MessageID = "m"; return e }(), false},
		{"email no priority", func() communication.EmailQueued { e := eq; e.Priority = ""; return e }(), false},
		{"email bad template", func() communication.EmailQueued { e := eq; e.Template = "x"; return e }(), false},
		{"email no source", func() communication.EmailQueued { e := eq; e.SourceEventID = ""; return e }(), false},
		{"whatsapp", wq, true},
		{"whatsapp bad id", func() communication.WhatsAppMessageQueued { e := wq; e.MessageID = ""; return e }(), false},
		{"whatsapp no priority", func() communication.WhatsAppMessageQueued { e := wq; e.Priority = ""; return e }(), false},
		{"whatsapp no customer", func() communication.WhatsAppMessageQueued { e := wq; e.CustomerID = ""; return e }(), false},
		{"sent", communication.MessageSent{MessageID: msgID, Channel: "email", ProviderMessageID: "p", SentAt: now}, true},
		{"sent no time", communication.MessageSent{MessageID: msgID, Channel: "email", ProviderMessageID: "p"}, false},
		{"sent no provider id", communication.MessageSent{MessageID: msgID, Channel: "email", SentAt: now}, false},
		{"sent bad channel", communication.MessageSent{MessageID: msgID, Channel: "sms", ProviderMessageID: "p", SentAt: now}, false},
		{"failed", communication.MessageFailed{MessageID: msgID, Channel: "whatsapp", Reason: "r"}, true},
		{"failed no reason", communication.MessageFailed{MessageID: msgID, Channel: "whatsapp"}, false},
		{"skipped", communication.MessageSkipped{MessageID: msgID, Channel: "whatsapp", Reason: "r"}, true},
		{"skipped bad id", communication.MessageSkipped{Channel: "whatsapp", Reason: "r"}, false},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && apperr.CodeOf(err) != apperr.Internal {
			t.Errorf("%s: Validate returned an application error %v; stored-event errors must be plain", tt.name, err)
		}
	}
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add(communication.EventEmailQueued, []byte(`{"message_id":"`+msgID+`","customer_id":"`+custID+`","recipient_role":"customer","template":"quotation","priority":"high","attachments":[{"document_id":"d","name":"q.pdf","content_type":"application/pdf"}],"source_event_id":"`+srcID+`"}`))
	f.Add(communication.EventEmailQueued, []byte(`{"message_id":"`+msgID+`","recipient_role":"admin","template":"admin_registration","priority":"normal","attachments":null,"source_event_id":"`+srcID+`"}`))
	f.Add(communication.EventWhatsAppQueued, []byte(`{"message_id":"`+msgID+`","customer_id":"`+custID+`","template":"renewal_reminder","priority":"normal","document_id":"d","source_event_id":"`+srcID+`"}`))
	f.Add(communication.EventSent, []byte(`{"message_id":"`+msgID+`","channel":"email","provider_message_id":"p","sent_at":"2026-03-10T09:30:00Z"}`))
	f.Add(communication.EventFailed, []byte(`{"message_id":"`+msgID+`","channel":"whatsapp","reason":"r"}`))
	f.Add(communication.EventSkipped, []byte(`{"message_id":"`+msgID+`","channel":"whatsapp","reason":""}`))
	f.Add("Other", []byte(`{}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		reg := event.NewRegistry()
		if err := reg.Register(communication.Events()...); err != nil {
			t.Fatal(err)
		}
		env := event.Envelope{EventID: event.NewID(), EventName: name, AggregateType: communication.AggregateType,
			AggregateID: msgID, AggregateVersion: 1, SchemaVersion: 1, Data: data}
		if m, err := communication.Rebuild([]event.Envelope{env}, reg); err == nil {
			_, _ = m.MarkSent("p", now)
			_, _ = m.MarkFailed("r", now)
			_, _ = m.MarkSkipped("r", now)
		}
		p, err := reg.Decode(env)
		if err != nil {
			return
		}
		b1, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal decoded %s: %v", name, err)
		}
		env.Data = b1
		p2, err := reg.Decode(env)
		if err != nil {
			t.Fatalf("re-decode %s %s: %v", name, b1, err)
		}
		b2, err := json.Marshal(p2)
		if err != nil {
			t.Fatal(err)
		}
		if string(b1) != string(b2) {
			t.Fatalf("encoding not stable:\n%s\n%s", b1, b2)
		}
		var m communication.Message
		_ = m.Apply(p)
		_ = m.Apply(p)
	})
}

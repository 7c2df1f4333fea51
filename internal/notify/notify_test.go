package notify_test

import (
	"errors"
	"strings"
	"testing"

	"insure/internal/notify"
)

const (
	msgID  = "0192f5e4-7a1b-7c2d-8e3f-405162738495"
	msgID2 = "0192f5e4-7a1b-7c2d-8e3f-405162738496"
	docID  = "0192f5e4-0000-7000-8000-00000000d0c1"
)

func validEmail() notify.Email {
	return notify.Email{
		MessageID: msgID,
		From:      "Insure <noreply@insure.example>",
		To:        "Asha Rao <asha@example.com>",
		Subject:   "Your policy POL-1 is confirmed",
		Text:      "Hello Asha,\n",
		HTML:      "<p>Hello Asha,</p>",
		Attachments: []notify.Attachment{{
			Name: "policy-POL-1.pdf", ContentType: "application/pdf", DocumentID: docID, Data: []byte("%PDF-1.7 …"),
		}},
	}
}

func validWhatsApp() notify.WhatsApp {
	return notify.WhatsApp{
		MessageID:    msgID,
		To:           "+919812345678",
		Template:     "insure_policy_confirmation",
		Language:     "en",
		Params:       []string{"Asha Rao", "POL-1", "1 Jan 2026", "31 Dec 2026"},
		DocumentID:   docID,
		DocumentName: "policy-POL-1.pdf",
	}
}

func TestEmailHeaderID(t *testing.T) {
	t.Parallel()
	e := validEmail()
	if got, want := e.HeaderID(), "<"+msgID+"@insure.local>"; got != want {
		t.Errorf("HeaderID() = %q, want %q", got, want)
	}
}

func TestEmailValidate(t *testing.T) {
	t.Parallel()
	if err := validEmail().Validate(); err != nil {
		t.Fatalf("valid email: %v", err)
	}
	tests := []struct {
		name   string
		change func(e *notify.Email)
		want   string // part of the error message
	}{
		{"empty message id", func(e *notify.Email) { e.MessageID = "" }, "message id"},
		{"message id not a uuid", func(e *notify.Email) { e.MessageID = "msg-1" }, "message id"},
		{"upper-case message id", func(e *notify.Email) { e.MessageID = strings.ToUpper(msgID) }, "canonical lowercase UUID"},
		{"empty from", func(e *notify.Email) { e.From = "" }, "from address is empty"},
		{"bad from", func(e *notify.Email) { e.From = "noreply" }, "from address"},
		{"empty to", func(e *notify.Email) { e.To = " " }, "to address is empty"},
		{"bad to", func(e *notify.Email) { e.To = "asha@" }, "to address"},
		{"two recipients", func(e *notify.Email) { e.To = "a@example.com, b@example.com" }, "to address"},
		{"header injection in to", func(e *notify.Email) { e.To = "a@example.com\r\nBcc: b@example.com" }, "line break"},
		{"empty subject", func(e *notify.Email) { e.Subject = "  " }, "subject is empty"},
		{"multi-line subject", func(e *notify.Email) { e.Subject = "Hello\nBcc: x@example.com" }, "single line"},
		{"invalid utf-8 subject", func(e *notify.Email) { e.Subject = "Hello \xff" }, "UTF-8"},
		{"empty text", func(e *notify.Email) { e.Text = "\n" }, "text body is empty"},
		{"nul in text", func(e *notify.Email) { e.Text = "a\x00b" }, "NUL"},
		{"empty html", func(e *notify.Email) { e.HTML = "" }, "html body is empty"},
		{"empty attachment name", func(e *notify.Email) { e.Attachments[0].Name = "" }, "attachment 1 name is empty"},
		{"attachment name with slash", func(e *notify.Email) { e.Attachments[0].Name = "../etc/passwd" }, "path separator"},
		{"attachment name with backslash", func(e *notify.Email) { e.Attachments[0].Name = `C:\x.pdf` }, "path separator"},
		{"attachment name dot-dot", func(e *notify.Email) { e.Attachments[0].Name = ".." }, "not a file name"},
		{"attachment name control", func(e *notify.Email) { e.Attachments[0].Name = "a\tb.pdf" }, "control character"},
		{"attachment content type", func(e *notify.Email) { e.Attachments[0].ContentType = "pdf;;" }, "content type"},
		{"attachment without data", func(e *notify.Email) { e.Attachments[0].Data = nil }, "no content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := validEmail()
			e.Attachments = append([]notify.Attachment(nil), e.Attachments...)
			tt.change(&e)
			err := e.Validate()
			if !errors.Is(err, notify.ErrInvalid) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestEmailValidateListsEveryProblem(t *testing.T) {
	t.Parallel()
	err := notify.Email{}.Validate()
	for _, want := range []string{"message id", "from address", "to address", "subject", "text body", "html body"} {
		if !strings.Contains(fmtErr(err), want) {
			t.Errorf("Validate() = %q, want it to mention %q", err, want)
		}
	}
}

func TestEmailValidateAcceptsNoAttachmentsAndDefaultContentType(t *testing.T) {
	t.Parallel()
	e := validEmail()
	e.Attachments[0].ContentType = ""
	if err := e.Validate(); err != nil {
		t.Errorf("empty content type: %v", err)
	}
	e.Attachments = nil
	if err := e.Validate(); err != nil {
		t.Errorf("no attachments: %v", err)
	}
}

func TestWhatsAppValidate(t *testing.T) {
	t.Parallel()
	if err := validWhatsApp().Validate(); err != nil {
		t.Fatalf("valid message: %v", err)
	}
	tests := []struct {
		name   string
		change func(w *notify.WhatsApp)
		want   string
	}{
		{"bad message id", func(w *notify.WhatsApp) { w.MessageID = "x" }, "message id"},
		{"empty to", func(w *notify.WhatsApp) { w.To = "" }, "E.164"},
		{"to without plus", func(w *notify.WhatsApp) { w.To = "919812345678" }, "E.164"},
		{"to with spaces", func(w *notify.WhatsApp) { w.To = "+91 98123 45678" }, "E.164"},
		{"to too short", func(w *notify.WhatsApp) { w.To = "+9112345" }, "E.164"},
		{"to too long", func(w *notify.WhatsApp) { w.To = "+9198123456789012" }, "E.164"},
		{"to leading zero", func(w *notify.WhatsApp) { w.To = "+09812345678" }, "E.164"},
		{"empty template", func(w *notify.WhatsApp) { w.Template = "" }, "template"},
		{"template with capitals", func(w *notify.WhatsApp) { w.Template = "Insure_Quote" }, "template"},
		{"empty language", func(w *notify.WhatsApp) { w.Language = "" }, "language"},
		{"bad language", func(w *notify.WhatsApp) { w.Language = "english" }, "language"},
		{"bad region", func(w *notify.WhatsApp) { w.Language = "en_us" }, "language"},
		{"empty param", func(w *notify.WhatsApp) { w.Params[1] = " " }, "parameter 2 is empty"},
		{"param with newline", func(w *notify.WhatsApp) { w.Params[0] = "Asha\nRao" }, "parameter 1 has a newline"},
		{"param with tab", func(w *notify.WhatsApp) { w.Params[0] = "Asha\tRao" }, "parameter 1 has a newline or tab"},
		{"param with five spaces", func(w *notify.WhatsApp) { w.Params[2] = "a     b" }, "consecutive spaces"},
		{"param invalid utf-8", func(w *notify.WhatsApp) { w.Params[3] = "\xff" }, "UTF-8"},
		{"document without name", func(w *notify.WhatsApp) { w.DocumentName = "" }, "document name is empty"},
		{"document name with slash", func(w *notify.WhatsApp) { w.DocumentName = "a/b.pdf" }, "path separator"},
		{"name without document", func(w *notify.WhatsApp) { w.DocumentID = "" }, "document id is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := validWhatsApp()
			w.Params = append([]string(nil), w.Params...)
			tt.change(&w)
			err := w.Validate()
			if !errors.Is(err, notify.ErrInvalid) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestWhatsAppValidateAccepts(t *testing.T) {
	t.Parallel()
	for _, change := range []func(w *notify.WhatsApp){
		func(w *notify.WhatsApp) { w.DocumentID, w.DocumentName = "", "" },
		func(w *notify.WhatsApp) { w.Params = nil },
		func(w *notify.WhatsApp) { w.Language = "en_US" },
		func(w *notify.WhatsApp) { w.Language = "fil" },
		func(w *notify.WhatsApp) { w.To = "+14155550123" },
		func(w *notify.WhatsApp) { w.Params[0] = "a    b" }, // four spaces are allowed
	} {
		w := validWhatsApp()
		w.Params = append([]string(nil), w.Params...)
		change(&w)
		if err := w.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", w, err)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

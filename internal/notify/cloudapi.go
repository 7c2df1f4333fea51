package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The WhatsApp Cloud API request body for a template message. The same
// types decode what the log driver stored.
type (
	cloudMessage struct {
		MessagingProduct string        `json:"messaging_product"`
		To               string        `json:"to"`
		Type             string        `json:"type"`
		Template         cloudTemplate `json:"template"`
	}
	cloudTemplate struct {
		Name       string           `json:"name"`
		Language   cloudLanguage    `json:"language"`
		Components []cloudComponent `json:"components,omitempty"`
	}
	cloudLanguage struct {
		Code string `json:"code"`
	}
	cloudComponent struct {
		Type       string           `json:"type"`
		Parameters []cloudParameter `json:"parameters"`
	}
	cloudParameter struct {
		Type     string         `json:"type"`
		Text     string         `json:"text,omitempty"`
		Document *cloudDocument `json:"document,omitempty"`
	}
	cloudDocument struct {
		ID       string `json:"id,omitempty"`
		Link     string `json:"link,omitempty"`
		Filename string `json:"filename"`
	}
)

// CloudAPIBody returns the JSON body the WhatsApp Cloud API's messages
// endpoint receives for w:
//
//	{"messaging_product":"whatsapp","to":"+91…","type":"template",
//	 "template":{"name":…,"language":{"code":…},"components":[
//	   {"type":"header","parameters":[{"type":"document","document":{"id":…,"filename":…}}]},
//	   {"type":"body","parameters":[{"type":"text","text":…},…]}]}}
//
// documentRef says where the provider finds w's document: a media id from an
// upload (sent as "id") or an http(s) URL (sent as "link"). The header
// component appears only when w has a DocumentID, and then documentRef is
// required; the body component appears only when w has Params, and
// "components" only when there is at least one of them. It returns an error
// wrapping ErrInvalid when w fails Validate or documentRef does not match w.
func CloudAPIBody(w WhatsApp, documentRef string) ([]byte, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	switch {
	case w.DocumentID != "" && documentRef == "":
		return nil, fmt.Errorf("%w: whatsapp message %s: document %s has no reference: pass its media id or link", ErrInvalid, w.MessageID, w.DocumentID)
	case w.DocumentID == "" && documentRef != "":
		return nil, fmt.Errorf("%w: whatsapp message %s: a document reference was given but the message has no document", ErrInvalid, w.MessageID)
	}
	msg := cloudMessage{
		MessagingProduct: "whatsapp",
		To:               w.To,
		Type:             "template",
		Template:         cloudTemplate{Name: w.Template, Language: cloudLanguage{Code: w.Language}},
	}
	if w.DocumentID != "" {
		doc := &cloudDocument{Filename: w.DocumentName}
		if strings.HasPrefix(documentRef, "https://") || strings.HasPrefix(documentRef, "http://") {
			doc.Link = documentRef
		} else {
			doc.ID = documentRef
		}
		msg.Template.Components = append(msg.Template.Components, cloudComponent{
			Type:       "header",
			Parameters: []cloudParameter{{Type: "document", Document: doc}},
		})
	}
	if len(w.Params) > 0 {
		params := make([]cloudParameter, len(w.Params))
		for i, v := range w.Params {
			params[i] = cloudParameter{Type: "text", Text: v}
		}
		msg.Template.Components = append(msg.Template.Components, cloudComponent{Type: "body", Parameters: params})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return nil, fmt.Errorf("notify: encode whatsapp message %s: %w", w.MessageID, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// decodeCloudAPIBody reads back a body CloudAPIBody produced: the body
// parameters and the header document, if any.
func decodeCloudAPIBody(body []byte) (params []string, doc *cloudDocument, err error) {
	var msg cloudMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, nil, err
	}
	if msg.Type != "template" {
		return nil, nil, errors.New(`type is not "template"`)
	}
	for _, c := range msg.Template.Components {
		for _, p := range c.Parameters {
			switch {
			case c.Type == "body" && p.Type == "text":
				params = append(params, p.Text)
			case c.Type == "header" && p.Type == "document" && p.Document != nil:
				doc = p.Document
			}
		}
	}
	return params, doc, nil
}

package notify

import (
	"strconv"
	"strings"
)

// The log drivers' SQL, valid on SQLite and PostgreSQL alike. ON CONFLICT …
// DO NOTHING makes a repeated message id affect no row, which is how Send
// detects a duplicate without a second round trip.
const (
	qInsertMail = `INSERT INTO outbound_mail (message_id, header_id, to_addr, from_addr, subject,
	text_body, html_body, attachments, recorded_at, customer_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
	ON CONFLICT (message_id) DO NOTHING`

	qInsertWhatsApp = `INSERT INTO outbound_whatsapp (message_id, provider_message_id, to_phone, template,
	language, body, recorded_at, customer_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (message_id) DO NOTHING`

	qMailExists     = `SELECT 1 FROM outbound_mail WHERE message_id = $1`
	qWhatsAppExists = `SELECT 1 FROM outbound_whatsapp WHERE message_id = $1`

	qSelectMail = `SELECT message_id, customer_id, header_id, to_addr, from_addr, subject, text_body, html_body,
	attachments, recorded_at FROM outbound_mail`

	qSelectWhatsApp = `SELECT message_id, customer_id, provider_message_id, to_phone, template, language, body,
	recorded_at FROM outbound_whatsapp`

	qOrder = ` ORDER BY recorded_at, message_id`
)

// maxIDsPerQuery bounds the placeholders in one IN list, well below both
// engines' limits.
const maxIDsPerQuery = 500

// whereIDs returns " WHERE message_id IN ($1, …, $n)". It takes a count,
// never values.
func whereIDs(n int) string {
	var b strings.Builder
	b.WriteString(" WHERE message_id IN (")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$")
		b.WriteString(strconv.Itoa(i + 1))
	}
	b.WriteString(")")
	return b.String()
}

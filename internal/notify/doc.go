// Package notify is insure's outbound seam for email and WhatsApp: the
// messages ([Email], [WhatsApp]), the interfaces that send them ([Mailer],
// [WhatsAppSender]), the development drivers that implement them, and the
// templates the messages are built from.
//
// # Sending
//
// A listener builds a message from a template ([Templates.RenderEmail],
// [Templates.WhatsAppParams]), gives it a stable MessageID (derived from the
// event it handles, so a retried job builds the same id) and calls Send.
// Every sender guarantees:
//
//   - No message is recorded or sent twice. Send is idempotent on
//     MessageID: a repeated Send, also a concurrent one, sends nothing and
//     returns a [Receipt] with Duplicate set and the first send's
//     ProviderID. A repeat is recognised by its id alone; its content is
//     not compared.
//   - A message is checked before anything happens. One that fails
//     Validate is refused with an error wrapping [ErrInvalid] and
//     [ErrRejected].
//   - Errors say what the caller should do: [ErrUnavailable] means try
//     again later (the attempt does not count), [ErrRejected] means retrying
//     cannot help.
//
// An email's RFC 5322 Message-ID header is derived from its MessageID
// ([Email.HeaderID]), so it is the same on every attempt.
//
// # Development drivers
//
// [LogMailer] and [LogWhatsApp] are the development drivers, like Laravel's
// "log" mailer: they deliver nothing and record each message with its full
// content in the database instead (tables outbound_mail and
// outbound_whatsapp), where [RecordedEmails] and [RecordedWhatsApps] read
// it back for the self-check, the demo and tests. An email is kept with
// both bodies and its attachments' metadata (name, content type, document
// id, size and SHA-256; not the bytes, since the document is stored
// elsewhere). A WhatsApp message is kept as the request body the Cloud API
// would receive ([CloudAPIBody]). [SMTPMailer] and [CloudAPI] are the real
// drivers behind the same interfaces.
//
// # Personal data in the stored copies
//
// A message about a customer (Email.CustomerID, WhatsApp.CustomerID; the
// administrators' notice of a registration is about the registered
// customer) is stored sealed under that customer's data key, through a
// [Sealer] (personal.Vault, see internal/keyring): to_addr, subject,
// text_body and html_body of outbound_mail, and to_phone and body of
// outbound_whatsapp (the sealed body is kept as a JSON string), each with
// the field "<table>.<column>". The customer's id is kept in clear in
// customer_id, as are the sender, the template and language, the
// attachments' metadata and the times. A message about no customer is
// stored as it is. [RecordedEmails] and [RecordedWhatsApps] open the values
// with an [Opener]. Once the customer's personal data is erased (their key
// destroyed), the sealed columns read "[erased]", and Send refuses a new
// message about them with an error wrapping [ErrRejected]; a repeated Send
// of a message recorded before still answers Duplicate.
//
// The real drivers keep no address or content: [SMTPMailer] blanks the
// message's addresses in the server replies it stores in mail_deliveries,
// and [CloudAPI] removes anything that looks like a phone number from the
// provider errors it stores in whatsapp_deliveries. Their errors may still
// quote a provider's reply; the listener that sends blanks the recipient in
// whatever it keeps of them.
//
// # Templates
//
// [NewTemplates] loads the email templates embedded from templates/ — three
// files per template: <name>.subject.tmpl and <name>.txt.tmpl
// (text/template) and <name>.html.tmpl (html/template) — and lets an
// operator replace any file from a directory. Each template takes one data
// type ([WelcomeData], [AdminRegistrationData], [QuotationData],
// [RenewalReminderData], [PolicyConfirmationData]); everything is parsed and
// trial-rendered at construction, so a broken template stops the program at
// start-up, not at the first send. WhatsApp templates are approved at the
// provider; here they are configuration ([WhatsAppTemplate]) naming the
// provider's template, its language and the data fields that fill its
// variables.
package notify

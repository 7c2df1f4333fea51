package notify_test

import (
	"fmt"

	"insure/internal/notify"
)

func ExampleTemplates_RenderEmail() {
	tmpl, err := notify.NewTemplates("") // embedded templates only
	if err != nil {
		fmt.Println(err)
		return
	}
	subject, _, _, err := tmpl.RenderEmail("renewal_reminder", notify.RenewalReminderData{
		CustomerName: "Asha Rao", PolicyNumber: "POL-77", Insurer: "Acme General",
		EndDate: "31 Dec 2026", DaysLeft: 1, Urgency: notify.UrgencyCritical,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(subject)
	// Output: Action needed: your Acme General policy POL-77 expires tomorrow
}

func ExampleTemplates_WhatsAppParams() {
	tmpl, err := notify.NewTemplates("")
	if err != nil {
		fmt.Println(err)
		return
	}
	name, lang, params, err := tmpl.WhatsAppParams("renewal_reminder", notify.RenewalReminderData{
		CustomerName: "Asha Rao", PolicyNumber: "POL-77", EndDate: "31 Dec 2026", DaysLeft: 7,
	})
	fmt.Println(name, lang, params, err)
	// Output: insure_renewal_reminder en [Asha Rao POL-77 31 Dec 2026 7] <nil>
}

func ExampleUrgencyWording() {
	for _, u := range []string{notify.UrgencyCritical, notify.UrgencyHigh, notify.UrgencyLow} {
		fmt.Println("Your policy " + notify.UrgencyWording(u, 1) + ".")
	}
	// Output:
	// Your policy expires tomorrow — renew now to stay covered.
	// Your policy expires tomorrow — please renew soon to avoid a gap in cover.
	// Your policy comes up for renewal tomorrow — there is no rush, and you can renew early whenever it suits you.
}

func ExampleCloudAPIBody() {
	body, err := notify.CloudAPIBody(notify.WhatsApp{
		MessageID: "0192f5e4-7a1b-7c2d-8e3f-405162738495",
		To:        "+919812345678",
		Template:  "insure_quotation",
		Language:  "en",
		Params:    []string{"Asha Rao", "Q-1", "Acme General — INR 8,500.00"},
	}, "")
	fmt.Println(string(body), err)
	// Output: {"messaging_product":"whatsapp","to":"+919812345678","type":"template","template":{"name":"insure_quotation","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"Asha Rao"},{"type":"text","text":"Q-1"},{"type":"text","text":"Acme General — INR 8,500.00"}]}]}} <nil>
}

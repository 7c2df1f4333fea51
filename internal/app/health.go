package app

import "time"

// Check is one readiness check.
type Check struct {
	Name     string `json:"name"`
	Status   string `json:"status"` // ok | degraded | failing
	Critical bool   `json:"critical"`
	Detail   string `json:"detail,omitempty"`
}

// Readiness is the answer of the readiness check: failing when a critical
// check fails, degraded when only a non-critical one does.
type Readiness struct {
	Status string  `json:"status"` // ok | degraded | failing
	Checks []Check `json:"checks"`
}

// ProviderStatus is an outbound provider's driver and circuit-breaker state.
type ProviderStatus struct {
	Name                string `json:"name"`   // email | whatsapp
	Driver              string `json:"driver"` // log | smtp | cloudapi
	State               string `json:"state"`  // closed | half-open | open
	ConsecutiveFailures uint32 `json:"consecutive_failures"`
}

// WhatsAppStatus is one delivery status reported by the WhatsApp Cloud API
// webhook.
type WhatsAppStatus struct {
	ProviderMessageID string
	Status            string // sent | delivered | read | failed
	Timestamp         time.Time
	ErrorCode         int
	ErrorTitle        string
}

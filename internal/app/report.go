package app

// ScanReport is what one expiry scan did.
type ScanReport struct {
	AsOf    string    `json:"as_of"`   // YYYY-MM-DD
	Scanned int       `json:"scanned"` // policies within 30 days of expiry looked at
	Warned  []Warning `json:"warned"`  // warnings recorded by this scan
}

// Warning is one PolicyExpiringWarning recorded by a scan.
type Warning struct {
	PolicyID     string `json:"policy_id"`
	PolicyNumber string `json:"policy_number"`
	EndDate      string `json:"end_date"`
	DaysLeft     int    `json:"days_left"`
	Threshold    int    `json:"threshold"`
	Urgency      string `json:"urgency"`
	EventID      string `json:"event_id"`
}

package app

import "testing"

// TestSnapshotKinds: every aggregate snapshotted survives JSON whole, so
// that a snapshot holds all of its state.
func TestSnapshotKinds(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"customer":  customerStream().kind.Check(),
		"policy":    policyStream().kind.Check(),
		"quotation": quotationStream().kind.Check(),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !customerStream().kind.Personal || policyStream().kind.Personal || quotationStream().kind.Personal {
		t.Error("only the customer's state is personal data and sealed")
	}
}

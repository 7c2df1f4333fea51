package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// schemaRun runs "insure events schema args…" through its constructor,
// with no environment and no database.
func schemaRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errs bytes.Buffer
	e := env{lookup: func(string) (string, bool) { return "", false }, stdout: &out, stderr: &errs}
	cmd := newEventsSchemaCmd(e, &globals{})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errs)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestEventsSchemaText(t *testing.T) {
	t.Parallel()
	out, err := schemaRun(t)
	if err != nil {
		t.Fatalf("events schema: %v\n%s", err, out)
	}
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range reg.Names() {
		if !strings.Contains(out, "\n"+name+"\n") && !strings.HasPrefix(out, name+"\n") {
			t.Errorf("output does not list %s", name)
		}
	}
	// CustomerRegistered in full: its legacy name, and each field's JSON
	// name, Go type and notes.
	block := schemaBlock(t, out, "CustomerRegistered")
	for _, want := range []string{
		"  aggregate:       customer\n",
		"  schema version:  1\n",
		"  upcasts from:    none\n",
		"  legacy names:    CustomerCreated (read as version 1; personal: name, email, mobile)\n",
	} {
		if !strings.Contains(block, want) {
			t.Errorf("CustomerRegistered block lacks %q:\n%s", want, block)
		}
	}
	for _, row := range [][]string{
		{"customer_id", "string"},
		{"name", "string", "personal"},
		{"phone", "string", "personal"},
		{"date_of_birth", "string", "personal, optional"},
		{"channel", "string"},
		{"preferences", "customer.Preferences"},
		{"preferences.whatsapp", "bool"},
	} {
		if !hasRow(block, row) {
			t.Errorf("CustomerRegistered block has no row %q:\n%s", row, block)
		}
	}
	// A map of changes: its personal keys are named.
	block = schemaBlock(t, out, "CustomerProfileUpdated")
	if !hasRow(block, []string{"changes.<key>.new", "any", "personal for name, email, phone, date_of_birth"}) {
		t.Errorf("CustomerProfileUpdated block:\n%s", block)
	}
}

// schemaBlock returns the lines of the text output that describe name.
func schemaBlock(t *testing.T, out, name string) string {
	t.Helper()
	for _, b := range strings.Split(out, "\n\n") {
		if strings.HasPrefix(b, name+"\n") {
			return b + "\n"
		}
	}
	t.Fatalf("no block for %s in:\n%s", name, out)
	return ""
}

// hasRow reports whether block has a field row with exactly these columns.
func hasRow(block string, cols []string) bool {
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(line, "    ") {
			continue
		}
		parts := strings.Fields(line)
		if len(parts) < 2 || parts[0] != cols[0] {
			continue
		}
		// Go types may contain a space ("struct {}"); compare the rest as
		// text.
		rest := strings.Join(strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), cols[0])), " ")
		if rest == strings.Join(cols[1:], " ") {
			return true
		}
	}
	return false
}

func TestEventsSchemaJSON(t *testing.T) {
	t.Parallel()
	out, err := schemaRun(t, "--json")
	if err != nil {
		t.Fatalf("events schema --json: %v\n%s", err, out)
	}
	var schemas []eventSchema
	if err := json.Unmarshal([]byte(out), &schemas); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range schemas {
		names = append(names, s.Name)
		if s.SchemaVersion < 1 || s.AggregateType == "" || len(s.Fields) == 0 {
			t.Errorf("%s: %+v", s.Name, s)
		}
		// Every registered personal path names a field: a typo there
		// would leave the field in clear.
		for _, p := range s.Personal {
			found := false
			for _, f := range s.Fields {
				if f.Path == p || (f.Personal && len(f.PersonalKeys) > 0 && matchesKey(f.Path, p)) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: personal path %q matches no field", s.Name, p)
			}
		}
	}
	if diff := cmp.Diff(reg.Names(), names); diff != "" {
		t.Errorf("events in the JSON (-registry +output):\n%s", diff)
	}
}

// matchesKey reports whether path, which has "<key>" segments, matches p.
func matchesKey(path, p string) bool {
	a, b := strings.Split(path, "."), strings.Split(p, ".")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != "<key>" && a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEventsSchemaNamed(t *testing.T) {
	t.Parallel()
	// A legacy name shows the event that replaced it, once.
	out, err := schemaRun(t, "CustomerCreated", "CustomerRegistered")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "CustomerRegistered\n") || strings.Count(out, "aggregate:") != 1 {
		t.Errorf("schema CustomerCreated CustomerRegistered:\n%s", out)
	}
	out, err = schemaRun(t, "NoSuchEvent")
	if err == nil || !strings.Contains(err.Error(), `no event type "NoSuchEvent"`) {
		t.Errorf("schema NoSuchEvent = %v\n%s", err, out)
	}
}

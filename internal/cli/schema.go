package cli

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"insure/internal/event"
)

// newEventsSchemaCmd is "insure events schema": the shape of every event
// type, read from the registry alone. It needs no configuration and no
// database, so e and g go unused.
func newEventsSchemaCmd(e env, g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "schema [EVENT...]",
		Short: "Print every event type: aggregate, schema version, legacy names, upcasters and fields",
		Long: "Prints each event type this build records, or only those named (a legacy name shows the event\n" +
			"that replaced it): its aggregate type, its current schema version, the legacy names it is read\n" +
			"from, the older versions it upcasts from, and its fields with their JSON names, Go types and\n" +
			"whether they are personal data (kept encrypted, erasable). With --json the same as JSON, for\n" +
			"tools, such as a check that a stored shape did not change without a new schema version.",
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := Registry()
			if err != nil {
				return err
			}
			schemas, err := eventSchemas(reg, args)
			if err != nil {
				return err
			}
			// cmd's output is e.stdout when run from the root command.
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(schemas)
			}
			return printSchemas(out, schemas)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

// eventSchema describes one event type.
type eventSchema struct {
	Name          string         `json:"name"`
	AggregateType string         `json:"aggregate_type"`
	SchemaVersion int            `json:"schema_version"`
	UpcastsFrom   []int          `json:"upcasts_from"`
	Legacy        []legacySchema `json:"legacy"`
	Fields        []fieldSchema  `json:"fields"`
	// Personal lists Definition.Personal as registered.
	Personal []string `json:"personal"`
}

// legacySchema is a legacy name an event is read from.
type legacySchema struct {
	Name string `json:"name"`
	// ReadAs is the schema version of the event the legacy data becomes.
	ReadAs   int      `json:"read_as_version"`
	Personal []string `json:"personal"`
}

// fieldSchema is one JSON field of a payload. Path is dot-separated, as in
// Definition.Personal; "<key>" stands for any key of a map and "[]" for
// the elements of a list.
type fieldSchema struct {
	Path     string `json:"path"`
	GoType   string `json:"go_type"`
	Optional bool   `json:"optional,omitempty"`
	Personal bool   `json:"personal,omitempty"`
	// PersonalKeys, for a field under a map, are the keys for which it is
	// personal.
	PersonalKeys []string `json:"personal_keys,omitempty"`
}

// eventSchemas describes the events of reg named in names (all when names
// is empty), sorted by name.
func eventSchemas(reg *event.Registry, names []string) ([]eventSchema, error) {
	if len(names) == 0 {
		names = reg.Names()
	}
	var out []eventSchema
	seen := map[string]bool{}
	for _, n := range names {
		d, ok := reg.Lookup(n)
		if !ok {
			return nil, fmt.Errorf("no event type %q (insure events schema lists them all)", n)
		}
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		d, _ = reg.Lookup(d.Name) // a legacy name's Personal is the legacy data's
		out = append(out, describe(d))
	}
	slices.SortFunc(out, func(a, b eventSchema) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func describe(d event.Definition) eventSchema {
	s := eventSchema{Name: d.Name, AggregateType: d.AggregateType, SchemaVersion: d.SchemaVersion,
		UpcastsFrom: []int{}, Legacy: []legacySchema{}, Personal: append([]string{}, d.Personal...)}
	for v := range d.Upcasters {
		s.UpcastsFrom = append(s.UpcastsFrom, v)
	}
	slices.Sort(s.UpcastsFrom)
	for name, l := range d.Legacy {
		s.Legacy = append(s.Legacy, legacySchema{Name: name, ReadAs: l.SchemaVersion, Personal: append([]string{}, l.Personal...)})
	}
	slices.SortFunc(s.Legacy, func(a, b legacySchema) int { return strings.Compare(a.Name, b.Name) })
	s.Fields = []fieldSchema{}
	walkFields(reflect.TypeOf(d.New()), "", false, map[reflect.Type]bool{}, &s.Fields)
	for i := range s.Fields {
		s.Fields[i].Personal, s.Fields[i].PersonalKeys = personalField(s.Fields[i].Path, d.Personal)
	}
	return s
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	timeType      = reflect.TypeFor[time.Time]()
)

// opaque reports a type whose JSON form is its own (a time, a type with
// MarshalJSON or MarshalText): it is one field, not a set of them.
func opaque(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	for _, m := range []reflect.Type{jsonMarshaler, textMarshaler} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return true
		}
	}
	return false
}

// walkFields appends the JSON fields of t under prefix to out, following
// encoding/json's rules: exported fields, names from the json tag, "-"
// skipped, untagged embedded structs flattened. It goes into nested structs,
// maps with struct values and lists of structs. onPath guards against
// recursive types.
func walkFields(t reflect.Type, prefix string, optional bool, onPath map[reflect.Type]bool, out *[]fieldSchema) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || opaque(t) || onPath[t] {
		return
	}
	onPath[t] = true
	defer delete(onPath, t)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				walkFields(et, prefix, optional, onPath, out)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := prefix + name
		opt := optional || strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		*out = append(*out, fieldSchema{Path: path, GoType: strings.ReplaceAll(ft.String(), "interface {}", "any"), Optional: opt})

		inner := ft
		for inner.Kind() == reflect.Pointer {
			inner = inner.Elem()
		}
		if opaque(inner) {
			continue
		}
		switch inner.Kind() {
		case reflect.Struct:
			walkFields(inner, path+".", opt, onPath, out)
		case reflect.Map:
			walkFields(inner.Elem(), path+".<key>.", opt, onPath, out)
		case reflect.Slice, reflect.Array:
			walkFields(inner.Elem(), path+"[].", opt, onPath, out)
		}
	}
}

// personalField reports whether the field at path is personal: its path is
// one of personal, or, for a field under a map, one of them with "<key>"
// replaced by a key (keys lists those keys).
func personalField(path string, personal []string) (bool, []string) {
	if slices.Contains(personal, path) {
		return true, nil
	}
	if !strings.Contains(path, "<key>") {
		return false, nil
	}
	segs := strings.Split(path, ".")
	var keys []string
	for _, p := range personal {
		ps := strings.Split(p, ".")
		if len(ps) != len(segs) {
			continue
		}
		var key string
		match := true
		for i, s := range segs {
			switch {
			case s == "<key>":
				key = ps[i]
			case s != ps[i]:
				match = false
			}
		}
		if match && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return len(keys) > 0, keys
}

func printSchemas(out io.Writer, schemas []eventSchema) error {
	var w bytes.Buffer
	for i, s := range schemas {
		if i > 0 {
			fmt.Fprintln(&w)
		}
		fmt.Fprintf(&w, "%s\n", s.Name)
		fmt.Fprintf(&w, "  aggregate:       %s\n", s.AggregateType)
		fmt.Fprintf(&w, "  schema version:  %d\n", s.SchemaVersion)
		upcasts := "none"
		if len(s.UpcastsFrom) > 0 {
			vs := make([]string, len(s.UpcastsFrom))
			for i, v := range s.UpcastsFrom {
				vs[i] = fmt.Sprintf("%d→%d", v, v+1)
			}
			upcasts = strings.Join(vs, ", ")
		}
		fmt.Fprintf(&w, "  upcasts from:    %s\n", upcasts)
		legacy := "none"
		if len(s.Legacy) > 0 {
			ls := make([]string, len(s.Legacy))
			for i, l := range s.Legacy {
				ls[i] = fmt.Sprintf("%s (read as version %d", l.Name, l.ReadAs)
				if len(l.Personal) > 0 {
					ls[i] += "; personal: " + strings.Join(l.Personal, ", ")
				}
				ls[i] += ")"
			}
			legacy = strings.Join(ls, "; ")
		}
		fmt.Fprintf(&w, "  legacy names:    %s\n", legacy)
		fmt.Fprintln(&w, "  fields:")
		tw := tabwriter.NewWriter(&w, 0, 4, 2, ' ', 0)
		for _, f := range s.Fields {
			var notes []string
			switch {
			case len(f.PersonalKeys) > 0:
				notes = append(notes, "personal for "+strings.Join(f.PersonalKeys, ", "))
			case f.Personal:
				notes = append(notes, "personal")
			}
			if f.Optional {
				notes = append(notes, "optional")
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", f.Path, f.GoType, strings.Join(notes, ", "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	// Rows without notes end in the padding of their type column.
	lines := strings.Split(w.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(out, strings.Join(lines, "\n"))
	return err
}

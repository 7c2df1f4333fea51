package event_test

import (
	"encoding/json"
	"fmt"

	"insure/internal/event"
)

// greeted is at schema version 2: version 1 called its field "text".
type greeted struct {
	Greeting string `json:"greeting"`
}

func (greeted) EventName() string { return "Greeted" }

// A definition at version 2 declares the upcaster from version 1, and the
// legacy name "Hello" whose data it reads as version 1. Decode gives the
// current payload whatever was stored; Upcast gives the current envelope.
func ExampleRegistry_Upcast() {
	reg := event.NewRegistry()
	err := reg.Register(event.Definition{
		Name: "Greeted", AggregateType: "greeter", SchemaVersion: 2,
		New: func() event.Payload { return &greeted{} },
		Upcasters: map[int]event.Upcaster{
			1: func(data json.RawMessage) (json.RawMessage, error) {
				var v1 struct {
					Text string `json:"text"`
				}
				if err := event.UnmarshalStrict(data, &v1); err != nil {
					return nil, err
				}
				return json.Marshal(greeted{Greeting: v1.Text})
			},
		},
		Legacy: map[string]event.LegacyEvent{
			"Hello": {SchemaVersion: 1, Upcast: func(env event.Envelope) (json.RawMessage, error) {
				return json.Marshal(map[string]string{"text": "hello from " + env.AggregateID})
			}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, env := range []event.Envelope{
		{EventName: "Greeted", AggregateID: "g-1", SchemaVersion: 2, Data: json.RawMessage(`{"greeting":"hi"}`)},
		{EventName: "Greeted", AggregateID: "g-1", SchemaVersion: 1, Data: json.RawMessage(`{"text":"hey"}`)},
		{EventName: "Hello", AggregateID: "g-1", SchemaVersion: 1, Data: json.RawMessage(`{}`)},
	} {
		up, err := reg.Upcast(env)
		if err != nil {
			fmt.Println(err)
			return
		}
		p, err := reg.Decode(env)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s v%d -> %s v%d %s -> %+v\n", env.EventName, env.SchemaVersion, up.EventName, up.SchemaVersion, up.Data, p)
	}
	// Output:
	// Greeted v2 -> Greeted v2 {"greeting":"hi"} -> &{Greeting:hi}
	// Greeted v1 -> Greeted v2 {"greeting":"hey"} -> &{Greeting:hey}
	// Hello v1 -> Greeted v2 {"greeting":"hello from g-1"} -> &{Greeting:hello from g-1}
}

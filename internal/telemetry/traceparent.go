package telemetry

import (
	"encoding/hex"

	"go.opentelemetry.io/otel/trace"
)

// traceParentLen is the length of a version 00 traceparent:
// 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>.
const traceParentLen = 2 + 1 + 32 + 1 + 16 + 1 + 2

// FormatTraceParent returns sc as a W3C traceparent (version 00), or ""
// when sc is not valid.
func FormatTraceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	return "00-" + hex.EncodeToString(tid[:]) + "-" + hex.EncodeToString(sid[:]) + "-" + hex.EncodeToString([]byte{byte(sc.TraceFlags())})
}

// ParseTraceParent reads a traceparent as FormatTraceParent writes it:
// version 00, lower-case hex, neither id all zeros. Anything else (it is
// outside input, stored in events) is refused with ok false; it never
// panics. The span context it returns is remote.
func ParseTraceParent(s string) (sc trace.SpanContext, ok bool) {
	if len(s) != traceParentLen || s[0:3] != "00-" || s[35] != '-' || s[52] != '-' {
		return trace.SpanContext{}, false
	}
	var (
		tid   trace.TraceID
		sid   trace.SpanID
		flags [1]byte
	)
	if !lowerHex(s[3:35], tid[:]) || !lowerHex(s[36:52], sid[:]) || !lowerHex(s[53:55], flags[:]) {
		return trace.SpanContext{}, false
	}
	sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags[0]), Remote: true})
	if !sc.IsValid() {
		return trace.SpanContext{}, false
	}
	return sc, true
}

// lowerHex decodes s, which must be lower-case hex of len(dst) bytes, into
// dst.
func lowerHex(s string, dst []byte) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}

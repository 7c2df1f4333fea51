package relay

import "strings"

// Subject returns <prefix>.<aggregateType>.<eventName> and true, or
// <prefix>._unroutable and false when either is not a valid subject token.
func Subject(prefix, aggregateType, eventName string) (string, bool) {
	if !validToken(aggregateType) || !validToken(eventName) {
		return prefix + "." + UnroutableToken, false
	}
	return prefix + "." + aggregateType + "." + eventName, true
}

// validToken reports whether s can be one token of a NATS subject: not
// empty, printable ASCII without spaces, '.', '*' or '>'.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return false
		}
	}
	return true
}

func validPrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, t := range strings.Split(p, ".") {
		if !validToken(t) {
			return false
		}
	}
	return true
}

// validStreamName follows JetStream's rule for stream names (no spaces,
// '.', '*', '>', path separators), kept to letters, digits, '-' and '_'.
func validStreamName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

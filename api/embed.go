// Package api holds insure's HTTP API contract, api/openapi.yaml, embedded
// so that tests (and anything else that wants it) can load it without
// knowing where the file sits on disk.
package api

import _ "embed"

//go:embed openapi.yaml
var spec []byte

// Spec returns the OpenAPI 3.0.3 description of the HTTP API. The caller
// owns the returned slice.
func Spec() []byte {
	return append([]byte(nil), spec...)
}

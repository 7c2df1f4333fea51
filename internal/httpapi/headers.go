package httpapi

import "net/http"

// The security headers, and their values. The API serves JSON and PDFs,
// never HTML: nothing of it is to be framed, run as a page, cached or
// sniffed as another type.
const (
	headerContentTypeOptions = "X-Content-Type-Options"
	headerCSP                = "Content-Security-Policy"
	headerFrameOptions       = "X-Frame-Options"
	headerReferrerPolicy     = "Referrer-Policy"
	headerCacheControl       = "Cache-Control"
	headerHSTS               = "Strict-Transport-Security"

	valueCSP = "default-src 'none'; frame-ancestors 'none'"
	// valueHSTS is a year. It leaves out includeSubDomains and preload:
	// those bind other hosts of the domain, which is the operator's call.
	valueHSTS = "max-age=31536000"
)

// securityHeaders sets on h the headers that every response carries,
// errors, 404s, 405s and documents included: no sniffing, a content
// security policy that allows nothing, no framing, no referrer, and no
// caching (responses hold personal data). Strict-Transport-Security is
// set only when r came over TLS; behind a proxy that terminates TLS, the
// proxy must send it.
func securityHeaders(h http.Header, r *http.Request) {
	h.Set(headerContentTypeOptions, "nosniff")
	h.Set(headerCSP, valueCSP)
	h.Set(headerFrameOptions, "DENY")
	h.Set(headerReferrerPolicy, "no-referrer")
	h.Set(headerCacheControl, "no-store")
	if r.TLS != nil {
		h.Set(headerHSTS, valueHSTS)
	}
}

package httpapi

import (
	"fmt"
	"slices"
	"strings"

	"insure/internal/auth"
	"insure/internal/projection"
)

// rule says who may call one route.
type rule struct {
	// public routes take no bearer token: they need no authentication
	// (health checks) or authenticate their callers themselves (webhooks,
	// by the provider's signature or verify token).
	public bool
	// roles may call the route; every other role is answered with 403.
	roles []auth.Role
}

func public() rule { return rule{public: true} }

func roles(r ...auth.Role) rule { return rule{roles: r} }

// allows reports whether role may call the route.
func (r rule) allows(role auth.Role) bool { return slices.Contains(r.roles, role) }

func (r rule) String() string {
	if r.public {
		return "public"
	}
	names := make([]string, len(r.roles))
	for i, role := range r.roles {
		names[i] = string(role)
	}
	return strings.Join(names, ", ")
}

// accessTable is the access table: for every route, by the exact pattern
// routes registers it with, the roles that may call it. It is the one place
// that says who may do what. NewServer fails for a route missing from it,
// and for an entry naming no route; see the rules below.
//
//   - admin may call everything, and alone erases a customer's personal
//     data.
//   - agent manages customers, quotations, policies, messages, documents,
//     dead letters and providers, but reads no event history: neither the
//     raw stream (GET /api/v1/events) nor a customer's events, nor the
//     access log (GET /api/v1/audit/access).
//   - auditor may read everything (every GET, the events and the access
//     log included) and change nothing.
//   - service reads the event stream only (GET /api/v1/events and its SSE
//     tail, GET /api/v1/events/stream).
//
// Public routes (no token) are the health checks and the WhatsApp webhook.
func accessTable() map[string]rule {
	const (
		admin   = auth.RoleAdmin
		agent   = auth.RoleAgent
		auditor = auth.RoleAuditor
		service = auth.RoleService
	)
	return map[string]rule{
		"GET /healthz": public(),
		"GET /readyz":  public(),

		"POST /api/v1/customers":                   roles(admin, agent),
		"GET /api/v1/customers":                    roles(admin, agent, auditor),
		"GET /api/v1/customers/{id}":               roles(admin, agent, auditor),
		"PATCH /api/v1/customers/{id}":             roles(admin, agent),
		"POST /api/v1/customers/{id}/verify-email": roles(admin, agent),
		"GET /api/v1/customers/{id}/events":        roles(admin, auditor),
		// Erasure cannot be undone: the admin alone decides it.
		"DELETE /api/v1/customers/{id}/personal-data": roles(admin),

		"POST /api/v1/quotations":     roles(admin, agent),
		"GET /api/v1/quotations/{id}": roles(admin, agent, auditor),

		"POST /api/v1/policies":             roles(admin, agent),
		"GET /api/v1/policies":              roles(admin, agent, auditor),
		"POST /api/v1/policies/expiry-scan": roles(admin, agent),
		"GET /api/v1/policies/{id}":         roles(admin, agent, auditor),
		"POST /api/v1/policies/{id}/renew":  roles(admin, agent),

		"GET /api/v1/messages": roles(admin, agent, auditor),

		"GET /api/v1/documents/{id}": roles(admin, agent, auditor),

		"GET /api/v1/events":        roles(admin, auditor, service),
		"GET /api/v1/events/stream": roles(admin, auditor, service),

		"GET /api/v1/audit/access": roles(admin, auditor),

		"GET /api/v1/dead-letters":               roles(admin, agent, auditor),
		"POST /api/v1/dead-letters/{id}/retry":   roles(admin, agent),
		"POST /api/v1/dead-letters/{id}/discard": roles(admin, agent),

		"GET /api/v1/providers": roles(admin, agent, auditor),

		"GET /api/v1/webhooks/whatsapp":  public(),
		"POST /api/v1/webhooks/whatsapp": public(),
	}
}

// readModelTable is the read-model table: for every route served from
// projections, by the exact pattern routes registers it with, the
// projections it reads. These routes take ?min_position=N and wait until
// every projection listed has applied the event at position N (see
// consistent); other routes read the event store or process state, which
// are never behind. NewServer fails for an entry naming no route.
func readModelTable() map[string][]string {
	return map[string][]string{
		"GET /api/v1/customers":       {projection.NameCustomers},
		"GET /api/v1/customers/{id}":  {projection.NameCustomers},
		"GET /api/v1/quotations/{id}": {projection.NameQuotations},
		"GET /api/v1/policies":        {projection.NamePolicies},
		"GET /api/v1/policies/{id}":   {projection.NamePolicies},
		"GET /api/v1/messages":        {projection.NameMessages},
		"GET /api/v1/documents/{id}":  {projection.NameDocuments},
		"GET /api/v1/audit/access":    {projection.NameAccessLog},
	}
}

// checkRule reports a table entry that cannot be right: a protected route
// that no role may call.
func checkRule(pattern string, r rule) error {
	if !r.public && len(r.roles) == 0 {
		return fmt.Errorf("route %q: the access table gives it no roles; list the roles that may call it, or make it public", pattern)
	}
	if r.public && len(r.roles) > 0 {
		return fmt.Errorf("route %q: the access table makes it public and lists roles; it is one or the other", pattern)
	}
	return nil
}

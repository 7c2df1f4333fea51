package httpapi

import "insure/internal/auth"

// RouteAccess is an entry of the access table, for the tests.
type RouteAccess struct {
	Public bool
	Roles  []auth.Role
}

// AccessTable returns the access table, for the tests.
func AccessTable() map[string]RouteAccess {
	out := make(map[string]RouteAccess)
	for pattern, r := range accessTable() {
		out[pattern] = RouteAccess{Public: r.public, Roles: r.roles}
	}
	return out
}

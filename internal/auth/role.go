package auth

import (
	"strings"

	"insure/internal/apperr"
)

// Role is what a token may do.
type Role string

// The roles.
const (
	// RoleAdmin may do everything, including managing tokens.
	RoleAdmin Role = "admin"
	// RoleAgent works with customers, quotations and policies.
	RoleAgent Role = "agent"
	// RoleAuditor reads.
	RoleAuditor Role = "auditor"
	// RoleService is another system calling insure (webhooks, integrations).
	RoleService Role = "service"
)

// Roles returns every role, in a fixed order. The slice is new on each call.
func Roles() []Role {
	return []Role{RoleAdmin, RoleAgent, RoleAuditor, RoleService}
}

// ParseRole returns the role named s (exactly, lower case). Otherwise it
// returns an apperr Invalid error on field "role" that lists the roles.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", apperr.Field("role", "unknown role %q: expected one of %s", s, roleList())
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	_, err := ParseRole(string(r))
	return err == nil
}

func roleList() string {
	names := make([]string, 0, 4)
	for _, r := range Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

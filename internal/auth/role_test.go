package auth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"insure/internal/apperr"
	"insure/internal/auth"
)

func TestRoles(t *testing.T) {
	t.Parallel()
	want := []auth.Role{auth.RoleAdmin, auth.RoleAgent, auth.RoleAuditor, auth.RoleService}
	if diff := cmp.Diff(want, auth.Roles()); diff != "" {
		t.Errorf("Roles() (-want +got):\n%s", diff)
	}
	r := auth.Roles()
	r[0] = "root"
	if auth.Roles()[0] != auth.RoleAdmin {
		t.Error("Roles() shares its slice between calls")
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want auth.Role
		ok   bool
	}{
		{"admin", auth.RoleAdmin, true},
		{"agent", auth.RoleAgent, true},
		{"auditor", auth.RoleAuditor, true},
		{"service", auth.RoleService, true},
		{"", "", false},
		{"Admin", "", false},
		{" admin", "", false},
		{"root", "", false},
		{"admins", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := auth.ParseRole(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("ParseRole(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				if !got.Valid() {
					t.Errorf("%q.Valid() = false", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseRole(%q) = %q, want an error", tt.in, got)
			}
			if !apperr.IsCode(err, apperr.Invalid) {
				t.Errorf("ParseRole(%q): code %s, want invalid", tt.in, apperr.CodeOf(err))
			}
			for _, r := range auth.Roles() {
				if !strings.Contains(err.Error(), string(r)) {
					t.Errorf("ParseRole(%q) error %q does not list role %s", tt.in, err, r)
				}
			}
			if auth.Role(tt.in).Valid() {
				t.Errorf("Role(%q).Valid() = true", tt.in)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"ops", true},
		{"a", true},
		{"ci.deploy_bot-2", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"has space", false},
		{"slash/name", false},
		{"émile", false},
		{"new\nline", false},
	}
	for _, tt := range tests {
		err := auth.ValidateName(tt.name)
		if tt.ok != (err == nil) {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		var ae *apperr.Error
		if err != nil && (!errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field != "name") {
			t.Errorf("ValidateName(%q) = %#v, want an Invalid error on field name", tt.name, err)
		}
	}
}

func TestPrincipalActor(t *testing.T) {
	t.Parallel()
	p := auth.Principal{TokenID: "id", Name: "ops", Role: auth.RoleAgent}
	if got := p.Actor(); got != "token:ops" {
		t.Errorf("Actor() = %q, want token:ops", got)
	}
}

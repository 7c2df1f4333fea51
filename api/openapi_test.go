package api_test

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"insure/api"
)

func TestSpecIsValidOpenAPI(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("validate: %v", err)
	}
}

func TestSpecReturnsACopy(t *testing.T) {
	t.Parallel()
	a := api.Spec()
	a[0] = 'X'
	if b := api.Spec(); b[0] == 'X' {
		t.Fatal("Spec returned the embedded bytes; callers could change them")
	}
}

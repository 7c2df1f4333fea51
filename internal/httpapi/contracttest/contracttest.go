// Package contracttest checks HTTP traffic against insure's API contract,
// api/openapi.yaml. Wrap a handler (the httpapi.Server with fakes, or the
// fully wired server) and every request through it is validated against the
// spec, and so is every response: status, headers, content type and body,
// error responses included. Any mismatch fails the test.
//
//	c := contracttest.New(t)
//	h := c.Wrap(t, server)
//	h.ServeHTTP(rec, req) // or httptest.NewServer(h)
//	...
//	if missing := c.Uncovered(); len(missing) > 0 { t.Errorf(...) }
//
// Requests that are deliberately wrong (malformed JSON, a bad parameter, a
// non-UUID id) carry the header SkipRequestHeader: their request is not
// validated, but their response still is. The header is removed before the
// wrapped handler sees the request.
//
// A request that matches no path or method in the spec must be answered
// with 404 or 405 and the spec's NotFound or MethodNotAllowed response.
//
// Security is checked for its shape only: a request to an operation that
// the spec protects with its bearer scheme must carry an
// "Authorization: Bearer <token>" header, any token; a request to a public
// operation (security: []) need not. Whether a token is valid, and whether
// its role may call the operation, is the server's decision, and its 401
// and 403 answers are validated like any other response. A request sent
// without a token on purpose is wrong on purpose: mark it with
// SkipRequestHeader.
package contracttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"insure/api"
)

// SkipRequestHeader marks a request whose own validation is skipped.
const SkipRequestHeader = "X-Contract-Skip-Request"

// maxReportedBody is how much of a response body a failure shows.
const maxReportedBody = 2048

// Contract is a loaded spec plus a record of the operations exercised
// through it. It is safe for concurrent use.
type Contract struct {
	doc    *openapi3.T
	router routers.Router
	opts   []openapi3.SchemaValidationOption

	mu   sync.Mutex
	seen map[string]map[int]int // "METHOD /path" -> status -> count
}

// New loads api/openapi.yaml and fails t if it does not load or validate.
func New(t testing.TB) *Contract {
	t.Helper()
	return Load(t, api.Spec())
}

// Load loads the given spec and fails t if it does not load or validate.
func Load(t testing.TB, spec []byte) *Contract {
	t.Helper()
	c, err := load(context.Background(), spec)
	if err != nil {
		t.Fatalf("contract: %v", err)
	}
	return c
}

func load(ctx context.Context, spec []byte) (*Contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("load the spec: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("the spec is not valid OpenAPI: %w", err)
	}
	// The servers are documentation: match requests on any host. The
	// router reads the servers only while it is built.
	servers := doc.Servers
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	doc.Servers = servers
	if err != nil {
		return nil, fmt.Errorf("build a router from the spec: %w", err)
	}
	// Formats that kin-openapi leaves unchecked by default, scoped to this
	// document rather than registered globally.
	doc.SetStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
	doc.SetStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail))
	return &Contract{
		doc:    doc,
		router: router,
		opts:   doc.GetSchemaValidationOptions(),
		seen:   make(map[string]map[int]int),
	}, nil
}

// Doc returns the loaded spec. Do not modify it.
func (c *Contract) Doc() *openapi3.T { return c.doc }

// Middleware wraps h with a new Contract for the API's spec.
func Middleware(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	return New(t).Wrap(t, h)
}

// Wrap returns h with every request and response checked against the spec.
// Mismatches are reported with t.Errorf, so the wrapped handler may run on
// any goroutine (such as an httptest.Server's).
func (c *Contract) Wrap(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		skip := r.Header.Get(SkipRequestHeader) != ""
		r.Header.Del(SkipRequestHeader)
		ctx := r.Context()
		what := r.Method + " " + r.URL.RequestURI()

		route, params, routeErr := c.router.FindRoute(r)
		var in *openapi3filter.RequestValidationInput
		if routeErr == nil {
			in = &openapi3filter.RequestValidationInput{
				Request:    r,
				PathParams: params,
				Route:      route,
				Options:    c.options(),
			}
			if !skip {
				if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
					t.Errorf("contract: request %s does not match the spec (send %s: 1 if it is wrong on purpose):\n%v",
						what, SkipRequestHeader, err)
				}
			}
		}

		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		status := rec.statusCode()
		body := rec.body.Bytes()

		switch {
		case routeErr == nil:
			c.record(route.Method+" "+route.Path, status)
		case errors.Is(routeErr, routers.ErrPathNotFound) && status == http.StatusNotFound:
			in = c.syntheticInput(r, status, "NotFound")
		case errors.Is(routeErr, routers.ErrMethodNotAllowed) && status == http.StatusMethodNotAllowed:
			in = c.syntheticInput(r, status, "MethodNotAllowed")
		default:
			t.Errorf("contract: %s is not in the spec (%v) but was answered with %d; want 404 or 405", what, routeErr, status)
		}
		if in != nil {
			if err := c.validateResponse(ctx, in, status, rec.header, body); err != nil {
				t.Errorf("contract: response %d to %s does not match the spec:\n%v\nbody: %s", status, what, err, clip(body))
			}
		}

		dst := w.Header()
		for k, v := range rec.header {
			dst[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

func (c *Contract) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus:   true,
		MultiError:              true,
		SchemaValidationOptions: c.opts,
		AuthenticationFunc:      authenticate,
	}
}

// authenticate checks a request against one security scheme of the
// operation it is for; kin-openapi calls it only for operations with
// security requirements. The spec has one kind of scheme, an http bearer
// token: the request must send "Authorization: Bearer <token>" (the scheme
// in any case) with any token. Any other kind of scheme fails, so that a
// scheme added to the spec cannot go unchecked.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme := in.SecurityScheme
	if scheme.Type != "http" || !strings.EqualFold(scheme.Scheme, "bearer") {
		return in.NewError(fmt.Errorf("security scheme %q is %s %s; contracttest checks only http bearer schemes", in.SecuritySchemeName, scheme.Type, scheme.Scheme))
	}
	values := in.RequestValidationInput.Request.Header.Values("Authorization")
	if len(values) != 1 {
		return in.NewError(fmt.Errorf("the operation needs one Authorization: Bearer <token> header, got %d", len(values)))
	}
	name, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(name, "Bearer") || strings.TrimSpace(token) == "" {
		return in.NewError(errors.New("the Authorization header is not Bearer <token>"))
	}
	return nil
}

// syntheticInput builds a validation input for a request that matched no
// operation: an operation whose one response is the named component.
func (c *Contract) syntheticInput(r *http.Request, status int, component string) *openapi3filter.RequestValidationInput {
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, c.doc.Components.Responses[component]))
	return &openapi3filter.RequestValidationInput{
		Request: r,
		Route:   &routers.Route{Spec: c.doc, Path: r.URL.Path, Method: r.Method, Operation: op},
		Options: c.options(),
	}
}

func (c *Contract) validateResponse(ctx context.Context, in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) error {
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Options:                in.Options,
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return err
	}
	return checkErrorPromises(status, body)
}

// checkErrorPromises checks what the spec promises in prose: a 500 never
// shows its cause.
func checkErrorPromises(status int, body []byte) error {
	if status != http.StatusInternalServerError {
		return nil
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("500 body: %w", err)
	}
	if e.Error.Code != "internal" || e.Error.Message != "internal error" || e.Error.Field != "" {
		return fmt.Errorf(`a 500 must say {"code":"internal","message":"internal error"} and nothing else, got %+v`, e.Error)
	}
	return nil
}

func (c *Contract) record(op string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[op] == nil {
		c.seen[op] = make(map[int]int)
	}
	c.seen[op][status]++
}

// Operations returns every operation in the spec as "METHOD /path", sorted.
func (c *Contract) Operations() []string {
	var ops []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// Seen returns, for each operation exercised so far, the statuses it was
// answered with, sorted.
func (c *Contract) Seen() map[string][]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]int, len(c.seen))
	for op, statuses := range c.seen {
		for s := range statuses {
			out[op] = append(out[op], s)
		}
		slices.Sort(out[op])
	}
	return out
}

// Uncovered returns the operations of the spec that no request through
// this Contract has had a 2xx answer from, as "METHOD /path".
func (c *Contract) Uncovered() []string {
	seen := c.Seen()
	var missing []string
	for _, op := range c.Operations() {
		if !slices.ContainsFunc(seen[op], func(s int) bool { return s >= 200 && s < 300 }) {
			missing = append(missing, op)
		}
	}
	return missing
}

// recorder keeps a response in memory until it has been validated.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// ReadFrom lets io.Copy stream into the recorder.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.ReadFrom(src)
}

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

func clip(b []byte) string {
	if len(b) <= maxReportedBody {
		return string(b)
	}
	return string(b[:maxReportedBody]) + "… (" + strconv.Itoa(len(b)) + " bytes)"
}

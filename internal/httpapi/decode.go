package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"insure/internal/apperr"
)

// maxBodyBytes is the largest request body the API reads.
const maxBodyBytes = 1 << 20

// bodyRule says whether an endpoint's body may be empty.
type bodyRule int

const (
	bodyRequired bodyRule = iota
	// bodyOptional treats an empty body as the zero value.
	bodyOptional
)

// decodeBody reads r's JSON body into a T. It fails with apperr.TooLarge
// for a body over maxBodyBytes; codeUnsupportedMediaType for a body that is
// not sent as application/json; and apperr.Malformed for a missing body,
// malformed JSON, a value that is not an object, an unknown field, data
// after the object or a value of the wrong JSON type (Field names it).
func decodeBody[T any](w http.ResponseWriter, r *http.Request, rule bodyRule) (T, error) {
	var v T
	data, err := readBody(w, r)
	if err != nil {
		return v, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if rule == bodyOptional {
			return v, nil
		}
		return v, apperr.New(apperr.Malformed, "a JSON request body is required")
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return v, err
	}
	return v, unmarshalStrict(data, &v)
}

// readBody reads r's raw body. It fails with apperr.TooLarge for a body
// over maxBodyBytes and apperr.Malformed when the body cannot be read.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil {
		r.Body = http.NoBody
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, apperr.New(apperr.TooLarge, "the request body is larger than %d bytes; send less", tooLarge.Limit)
		}
		return nil, apperr.Wrap(apperr.Malformed, err, "the request body could not be read")
	}
	return data, nil
}

// checkContentType accepts application/json with no charset or UTF-8.
func checkContentType(ct string) error {
	bad := apperr.New(codeUnsupportedMediaType, "send the body as Content-Type: application/json, not %q", truncate(ct, 100))
	if ct == "" {
		return apperr.New(codeUnsupportedMediaType, "send the body with Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return bad
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return bad
		}
	}
	return nil
}

// unmarshalStrict decodes data, which must hold exactly one JSON object,
// into v, rejecting unknown fields.
func unmarshalStrict(data []byte, v any) error {
	return unmarshalObject(data, v, true)
}

// unmarshalLenient is unmarshalStrict except that it ignores unknown
// fields: for bodies whose sender adds fields as it pleases (webhooks).
func unmarshalLenient(data []byte, v any) error {
	return unmarshalObject(data, v, false)
}

func unmarshalObject(data []byte, v any, strict bool) error {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' {
		return apperr.New(apperr.Malformed, "the request body must be a JSON object")
	}
	if err := checkText(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.New(apperr.Malformed, "the request body has data after the JSON object; send exactly one object")
	}
	if strict {
		return checkKeyCase(data, reflect.TypeOf(v), "")
	}
	return nil
}

// jsonError turns a json.Decoder error into an apperr.Malformed error.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return apperr.New(apperr.Malformed, "the request body is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return apperr.New(apperr.Malformed, "the request body must be a JSON object")
		}
		return &apperr.Error{
			Code:    apperr.Malformed,
			Field:   typ.Field,
			Message: fmt.Sprintf("must be %s, not %s", jsonTypeName(typ.Type), typ.Value),
		}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return apperr.New(apperr.Malformed, "the request body ends in the middle of the JSON object")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if s, uerr := strconv.Unquote(name); uerr == nil {
			name = s
		}
		return &apperr.Error{
			Code:    apperr.Malformed,
			Field:   name,
			Message: "is not a field of this request; check its spelling against the API description",
		}
	}
	return apperr.Wrap(apperr.Malformed, err, "the request body could not be decoded")
}

// jsonTypeName names the JSON type that decodes into t.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer that fits in %d bits", t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a non-negative integer that fits in %d bits", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a different type"
}

// loneSurrogate matches a \u escape of a UTF-16 surrogate; checkText checks
// that each high one is followed by a low one.
var loneSurrogate = regexp.MustCompile(`(?i)\\u(d[89ab][0-9a-f]{2})(\\u(d[c-f][0-9a-f]{2}))?|\\u(d[c-f][0-9a-f]{2})`)

// checkText rejects bodies that are not valid UTF-8, or that escape a lone
// UTF-16 surrogate: encoding/json would silently turn both into U+FFFD and
// store text the client never sent.
func checkText(data []byte) error {
	if !utf8.Valid(data) {
		return apperr.New(apperr.Malformed, "the request body is not valid UTF-8")
	}
	if bytes.Contains(data, []byte(`\u`)) || bytes.Contains(data, []byte(`\U`)) {
		for _, m := range loneSurrogate.FindAllSubmatch(data, -1) {
			if len(m[4]) > 0 || (len(m[1]) > 0 && len(m[3]) == 0) {
				return apperr.New(apperr.Malformed, "the request body escapes a lone UTF-16 surrogate (\\u%s), which is not a character", string(m[1])+string(m[4]))
			}
		}
	}
	return nil
}

// checkKeyCase rejects object keys that match a field only when case is
// ignored: encoding/json accepts {"NAME": …} for "name", which the
// contract calls an unknown field. It walks nested objects of struct
// fields; raw JSON fields (product details) are checked by their decoder.
func checkKeyCase(data []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(json.RawMessage{}) {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil // not an object here; the typed decode already judged it
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	for key, raw := range obj {
		ft, ok := fields[key]
		if !ok {
			return &apperr.Error{Code: apperr.Malformed, Field: path + key,
				Message: "is not a field of this request (field names are case-sensitive)"}
		}
		if err := checkKeyCase(raw, ft, path+key+"."); err != nil {
			return err
		}
	}
	return nil
}

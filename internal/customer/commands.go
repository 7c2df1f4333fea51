package customer

import (
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"insure/internal/apperr"
)

// Limits of the customer rules.
const (
	MaxNameLen  = 200 // characters, after trimming
	MaxEmailLen = 254 // bytes
	MinPhoneLen = 8   // digits in the E.164 form
	MaxPhoneLen = 15  // digits in the E.164 form
	MaxAge      = 120 // years
	// DefaultChannel is the channel of a registration that names none.
	DefaultChannel = "api"
	// IndiaCallingCode is added to 10-digit phone numbers given without a
	// country code.
	IndiaCallingCode = "91"
)

const dateLayout = "2006-01-02"

// Channels returns the channels a customer can register through.
func Channels() []string {
	return []string{"admin", "web", "api", "agent", "whatsapp", "import"}
}

// Register is the command to register a customer.
type Register struct {
	Name        string       `json:"name"`
	Email       string       `json:"email"`
	Phone       string       `json:"phone"`
	DateOfBirth *string      `json:"date_of_birth,omitempty"`
	Channel     string       `json:"channel,omitempty"`
	Preferences *Preferences `json:"preferences,omitempty"`
}

// Validate checks cmd against the customer rules (see the package
// documentation) as of now, which fixes "the future" and the customer's age.
// It returns an *apperr.Error with Code apperr.Invalid and Field set to the
// JSON name of the first offending field.
func (c Register) Validate(now time.Time) error {
	_, err := c.normalize(now)
	return err
}

// Normalize returns cmd with its fields normalised and defaults filled in:
// the name trimmed, the e-mail normalised, the phone in E.164 (left as given,
// trimmed, when it cannot be normalised), an empty date of birth removed, the
// channel "api" when empty and preferences defaulted. It does not validate.
func (c Register) Normalize() Register {
	c.Name = strings.TrimSpace(c.Name)
	c.Email = NormalizeEmail(c.Email)
	if p, err := NormalizePhone(c.Phone); err == nil {
		c.Phone = p
	} else {
		c.Phone = strings.TrimSpace(c.Phone)
	}
	if c.DateOfBirth != nil {
		d := strings.TrimSpace(*c.DateOfBirth)
		c.DateOfBirth = &d
		if d == "" {
			c.DateOfBirth = nil
		}
	}
	c.Channel = strings.TrimSpace(c.Channel)
	if c.Channel == "" {
		c.Channel = DefaultChannel
	}
	if c.Preferences == nil {
		p := DefaultPreferences()
		c.Preferences = &p
	} else {
		p := *c.Preferences
		c.Preferences = &p
	}
	return c
}

// normalize validates c and returns it normalised.
func (c Register) normalize(now time.Time) (Register, error) {
	n := c.Normalize()
	if err := checkName(n.Name); err != nil {
		return Register{}, err
	}
	if err := checkEmail(n.Email); err != nil {
		return Register{}, err
	}
	if _, err := NormalizePhone(c.Phone); err != nil {
		return Register{}, err
	}
	if n.DateOfBirth != nil {
		if err := checkDateOfBirth(*n.DateOfBirth, now); err != nil {
			return Register{}, err
		}
	}
	if !slices.Contains(Channels(), n.Channel) {
		return Register{}, apperr.Field("channel", "must be one of %s, got %q", strings.Join(Channels(), ", "), n.Channel)
	}
	return n, nil
}

// PreferencesPatch changes some of the communication preferences; nil fields
// stay as they are.
type PreferencesPatch struct {
	Email    *bool `json:"email,omitempty"`
	WhatsApp *bool `json:"whatsapp,omitempty"`
}

// UpdateProfile is the command to change a customer's profile. Nil fields
// stay as they are; an empty DateOfBirth removes the date of birth.
type UpdateProfile struct {
	Name        *string           `json:"name,omitempty"`
	Email       *string           `json:"email,omitempty"`
	Phone       *string           `json:"phone,omitempty"`
	DateOfBirth *string           `json:"date_of_birth,omitempty"`
	Preferences *PreferencesPatch `json:"preferences,omitempty"`
}

// Validate checks cmd as of now with the same rules as Register.Validate. It
// also returns an apperr.Invalid error with an empty Field when cmd gives no
// field at all.
func (c UpdateProfile) Validate(now time.Time) error {
	_, err := c.normalize(now)
	return err
}

func (c UpdateProfile) empty() bool {
	return c.Name == nil && c.Email == nil && c.Phone == nil && c.DateOfBirth == nil &&
		(c.Preferences == nil || (c.Preferences.Email == nil && c.Preferences.WhatsApp == nil))
}

// normalize validates c and returns it with every given field normalised.
func (c UpdateProfile) normalize(now time.Time) (UpdateProfile, error) {
	if c.empty() {
		return UpdateProfile{}, apperr.New(apperr.Invalid, "no fields to update: give at least one of name, email, phone, date_of_birth or preferences")
	}
	var n UpdateProfile
	if c.Name != nil {
		s := strings.TrimSpace(*c.Name)
		if err := checkName(s); err != nil {
			return UpdateProfile{}, err
		}
		n.Name = &s
	}
	if c.Email != nil {
		s := NormalizeEmail(*c.Email)
		if err := checkEmail(s); err != nil {
			return UpdateProfile{}, err
		}
		n.Email = &s
	}
	if c.Phone != nil {
		s, err := NormalizePhone(*c.Phone)
		if err != nil {
			return UpdateProfile{}, err
		}
		n.Phone = &s
	}
	if c.DateOfBirth != nil {
		s := strings.TrimSpace(*c.DateOfBirth)
		if s != "" {
			if err := checkDateOfBirth(s, now); err != nil {
				return UpdateProfile{}, err
			}
		}
		n.DateOfBirth = &s
	}
	if c.Preferences != nil {
		p := *c.Preferences
		n.Preferences = &p
	}
	return n, nil
}

// NormalizeEmail returns s trimmed and lower-cased. It does not validate.
func NormalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// NormalizePhone returns s in E.164 form, such as "+919876543210". It accepts
// digits with an optional leading +, and spaces, dashes and parentheses
// between them. A number without + is taken to be Indian when it has 10
// digits (+91 is added) or 11 digits starting with 0 (the trunk prefix 0 is
// dropped and +91 added); any other number without + must start with its
// country code. The result must have 8 to 15 digits and must not start with
// 0. Errors are apperr.Invalid for the field "phone".
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apperr.Field("phone", "is required")
	}
	digits := make([]byte, 0, len(s))
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == '+' && i == 0:
			plus = true
		case r == '+':
			return "", apperr.Field("phone", "a + is allowed only at the start, before the country code")
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "", apperr.Field("phone", "may contain only digits, a leading +, spaces, dashes and parentheses; write it like +91 98765 43210")
		}
	}
	d := string(digits)
	if !plus {
		switch {
		case len(d) == 10:
			d = IndiaCallingCode + d
		case len(d) == 11 && d[0] == '0':
			d = IndiaCallingCode + d[1:]
		}
	}
	switch {
	case len(d) < MinPhoneLen || len(d) > MaxPhoneLen:
		return "", apperr.Field("phone", "must have %d to %d digits including the country code, got %d", MinPhoneLen, MaxPhoneLen, len(d))
	case d[0] == '0':
		return "", apperr.Field("phone", "must start with a country code, such as +91; a country code never starts with 0")
	}
	return "+" + d, nil
}

func checkName(s string) error {
	switch n := utf8.RuneCountInString(s); {
	case s == "":
		return apperr.Field("name", "is required")
	case !utf8.ValidString(s):
		return apperr.Field("name", "must be valid UTF-8 text")
	case n > MaxNameLen:
		return apperr.Field("name", "must be at most %d characters, got %d", MaxNameLen, n)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return apperr.Field("name", "must not contain control characters such as line breaks or tabs")
	}
	return nil
}

// checkEmail checks an address already normalised by NormalizeEmail.
func checkEmail(s string) error {
	switch {
	case s == "":
		return apperr.Field("email", "is required")
	case len(s) > MaxEmailLen:
		return apperr.Field("email", "must be at most %d characters, got %d", MaxEmailLen, len(s))
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return apperr.Field("email", "must be a plain e-mail address such as name@example.com")
	}
	return nil
}

// checkDateOfBirth checks a trimmed, non-empty date of birth as of now, in
// now's own location.
func checkDateOfBirth(s string, now time.Time) error {
	dob, err := time.Parse(dateLayout, s)
	if err != nil {
		return apperr.Field("date_of_birth", "must be a date in the form YYYY-MM-DD, got %q", s)
	}
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if dob.After(today) {
		return apperr.Field("date_of_birth", "must not be in the future (today is %s)", today.Format(dateLayout))
	}
	if age := ageOn(dob, today); age > MaxAge {
		return apperr.Field("date_of_birth", "gives an age of %d; the oldest age accepted is %d", age, MaxAge)
	}
	return nil
}

// ageOn returns the age in whole years on day of someone born on dob.
func ageOn(dob, day time.Time) int {
	age := day.Year() - dob.Year()
	if day.Month() < dob.Month() || (day.Month() == dob.Month() && day.Day() < dob.Day()) {
		age--
	}
	return age
}

package config

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// smtpURLExpected describes a valid SMTP_URL, for errors and docs.
const smtpURLExpected = "empty, or smtp://[user:password@]host[:port] (smtps:// for implicit TLS) " +
	"with optional ?security=starttls|opportunistic|none (smtp:// only), timeout=<duration above 0, at most 5m> and helo=<name>"

// smtpMaxTimeout is the largest timeout= an SMTP_URL may give.
const smtpMaxTimeout = 5 * time.Minute

// checkSMTPURL returns "" if s is empty or shaped like an SMTP_URL, else
// what was expected instead. It checks the shape only (scheme, host, port,
// user and password, options), with the rules of the mail driver's parser
// (notify.ParseSMTPURL), which this package cannot import.
//
// s may hold a password, and when it holds reserved characters the URL
// parser may take part of it for the host, port or query. So the texts
// returned never quote any part of s: the caller shows s redacted.
func checkSMTPURL(s string) string {
	if s == "" {
		return ""
	}
	fail := func(detail string) string { return smtpURLExpected + "; " + detail }
	u, err := url.Parse(s)
	if err != nil {
		return fail(`it is not a valid URL (percent-encode reserved characters in the user name and password, e.g. "@" as %40 and "/" as %2F)`)
	}
	switch {
	case u.Scheme != "smtp" && u.Scheme != "smtps":
		return fail("the scheme must be smtp:// or smtps://")
	case u.Opaque != "" || u.Hostname() == "":
		return fail("the host is missing")
	case strings.IndexFunc(u.Hostname(), func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`/\?#@[]%"'<>`, r)
	}) >= 0:
		return fail("the host is not a host name or IP address")
	case u.Path != "" && u.Path != "/":
		return fail(`a path is not allowed (percent-encode "/" in the password as %2F)`)
	case u.Fragment != "" || u.RawFragment != "" || strings.Contains(s, "#"):
		return fail(`a fragment is not allowed (percent-encode "#" in the password as %23)`)
	}
	if port := u.Port(); port != "" || u.Host[len(u.Host)-1] == ':' {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fail("the port must be from 1 to 65535")
		}
	}
	if u.User != nil {
		password, _ := u.User.Password()
		switch {
		case u.User.Username() == "":
			return fail("the user name is empty: give user:password@, or neither")
		case password == "":
			return fail("the user has no password: give user:password@ (AUTH needs both), or neither")
		case strings.ContainsAny(u.User.Username(), "\x00\r\n"):
			return fail("the user name has a control character")
		}
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail(`the options are not a valid query string (percent-encode "?" in the password as %3F)`)
	}
	for _, key := range slices.Sorted(maps.Keys(query)) {
		values := query[key]
		if len(values) != 1 {
			return fail("each option may be given once")
		}
		value := values[0]
		switch key {
		case "security":
			switch {
			case u.Scheme == "smtps" && value != "tls":
				return fail("smtps:// always uses implicit TLS: leave out security=, or use smtp://")
			case u.Scheme == "smtp" && value == "tls":
				return fail("for implicit TLS use smtps://")
			case u.Scheme == "smtp" && value != "starttls" && value != "opportunistic" && value != "none":
				return fail("security must be starttls, opportunistic or none")
			}
		case "timeout":
			if d, err := time.ParseDuration(value); err != nil || d <= 0 || d > smtpMaxTimeout {
				return fail("timeout must be a duration above 0 and at most 5m, with a unit (e.g. 30s)")
			}
		case "helo":
			if !isHELOName(value) {
				return fail("helo must be a host name (printable ASCII without spaces)")
			}
		default:
			return fail("the only options are security, timeout and helo")
		}
	}
	return ""
}

// isHELOName reports whether s can follow HELO/EHLO: non-empty printable
// ASCII without spaces.
func isHELOName(s string) bool {
	return s != "" && allBytes(s, func(b byte) bool { return '!' <= b && b <= '~' })
}

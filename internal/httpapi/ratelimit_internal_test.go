package httpapi

import (
	"testing"
	"time"
)

func TestRateLimitsWithDefaults(t *testing.T) {
	t.Parallel()
	want := RateLimits{PerToken: 600, PerIP: 120, FailedAuthPerIP: 10, Window: time.Minute}
	if got := (RateLimits{}).withDefaults(); got != want {
		t.Errorf("zero RateLimits with defaults = %+v, want %+v", got, want)
	}
	set := RateLimits{PerToken: 1, PerIP: 2, FailedAuthPerIP: 3, Window: time.Second}
	if got := set.withDefaults(); got != set {
		t.Errorf("set RateLimits with defaults = %+v, want them unchanged", got)
	}
}

func TestRetryAfterAndWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		window time.Duration
		retry  int
		say    string
	}{
		{time.Minute, 60, "1 minute"},
		{time.Hour, 3600, "60 minutes"},
		{30 * time.Second, 30, "30 seconds"},
		{time.Second, 1, "1 second"},
		{1500 * time.Millisecond, 2, "1.5s"},
		{50 * time.Millisecond, 1, "50ms"},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.window); got != tt.retry {
			t.Errorf("retryAfter(%s) = %d, want %d", tt.window, got, tt.retry)
		}
		if got := describeWindow(tt.window); got != tt.say {
			t.Errorf("describeWindow(%s) = %q, want %q", tt.window, got, tt.say)
		}
	}
}

package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Queue names. Queues returns them all, in the order they are documented.
const (
	QueueHighPriority     = "high-priority"
	QueueNormal           = "normal"
	QueueLowPriority      = "low-priority"
	QueueEmailPriority    = "email-priority"
	QueueEmailNormal      = "email-normal"
	QueueWhatsAppPriority = "whatsapp-priority"
	QueueWhatsAppNormal   = "whatsapp-normal"
	QueuePDFPriority      = "pdf-priority"
	QueuePDFNormal        = "pdf-normal"
	QueueAuditNormal      = "audit-normal"
)

// Limits on the number of workers per queue in QUEUE_WORKERS.
const (
	minQueueWorkers = 0
	maxQueueWorkers = 1000
)

// Queues returns every queue name, in a fixed order. The slice is new on
// each call, so callers may modify it.
func Queues() []string {
	return []string{
		QueueHighPriority,
		QueueNormal,
		QueueLowPriority,
		QueueEmailPriority,
		QueueEmailNormal,
		QueueWhatsAppPriority,
		QueueWhatsAppNormal,
		QueuePDFPriority,
		QueuePDFNormal,
		QueueAuditNormal,
	}
}

// isEmailQueue reports whether queue carries email jobs, which this process
// does not work when EMAIL_QUEUE_ENABLED is false.
func isEmailQueue(queue string) bool {
	return queue == QueueEmailPriority || queue == QueueEmailNormal
}

// defaultQueueWorkers returns the default QUEUE_WORKERS: 10 workers for
// every queue except low-priority and audit-normal, which get 5.
func defaultQueueWorkers() map[string]int {
	m := make(map[string]int, len(Queues()))
	for _, q := range Queues() {
		m[q] = 10
	}
	m[QueueLowPriority] = 5
	m[QueueAuditNormal] = 5
	return m
}

// WorkedQueues returns the queues this process works and their number of
// workers: QueueWorkers without the queues set to 0, and without the email
// queues when EmailQueueEnabled is false (their jobs stay queued until a
// process with email enabled works them). The map is new on each call.
func (c Config) WorkedQueues() map[string]int {
	m := make(map[string]int, len(c.QueueWorkers))
	for q, n := range c.QueueWorkers {
		if n <= 0 || (!c.EmailQueueEnabled && isEmailQueue(q)) {
			continue
		}
		m[q] = n
	}
	return m
}

// queueWorkersExpected describes a valid QUEUE_WORKERS value.
func queueWorkersExpected() string {
	return fmt.Sprintf("comma-separated queue=N overrides, N from %d to %d (0: this process does not work that queue), "+
		"queue one of %s (e.g. pdf-normal=2,audit-normal=0)",
		minQueueWorkers, maxQueueWorkers, strings.Join(Queues(), ", "))
}

// parseQueueWorkers applies the overrides in s ("queue=N,queue=N") to a copy
// of base. It returns "" or what was expected instead.
func parseQueueWorkers(base map[string]int, s string) (map[string]int, string) {
	m := make(map[string]int, len(Queues()))
	for q, n := range base {
		m[q] = n
	}
	if s == "" {
		return m, ""
	}
	expected := queueWorkersExpected()
	seen := make(map[string]bool)
	for _, pair := range strings.Split(s, ",") {
		name, num, ok := strings.Cut(pair, "=")
		name, num = strings.TrimSpace(name), strings.TrimSpace(num)
		switch {
		case !ok || name == "":
			return nil, fmt.Sprintf("%s; %q is not queue=N", expected, strings.TrimSpace(pair))
		case !slices.Contains(Queues(), name):
			return nil, fmt.Sprintf("%s; %q is not a queue", expected, name)
		case seen[name]:
			return nil, fmt.Sprintf("%s; %q is given twice", expected, name)
		}
		seen[name] = true
		n, err := strconv.Atoi(num)
		if err != nil || n < minQueueWorkers || n > maxQueueWorkers {
			return nil, fmt.Sprintf("%s; %q for %s is not an integer from %d to %d",
				expected, num, name, minQueueWorkers, maxQueueWorkers)
		}
		m[name] = n
	}
	return m, ""
}

// checkQueueWorkers returns "" if m has a valid worker count for every queue
// and nothing else, otherwise what was expected instead.
func checkQueueWorkers(m map[string]int) string {
	expected := queueWorkersExpected()
	for _, name := range sortedKeys(m) {
		if !slices.Contains(Queues(), name) {
			return fmt.Sprintf("%s; %q is not a queue", expected, name)
		}
		if n := m[name]; n < minQueueWorkers || n > maxQueueWorkers {
			return fmt.Sprintf("%s; %d for %s is not from %d to %d", expected, n, name, minQueueWorkers, maxQueueWorkers)
		}
	}
	var missing []string
	for _, q := range Queues() {
		if _, ok := m[q]; !ok {
			missing = append(missing, q)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("%s; every queue needs a count (start from Default()), missing: %s",
			expected, strings.Join(missing, ", "))
	}
	return ""
}

// formatQueueWorkers spells m as QUEUE_WORKERS: every queue in Queues()
// order, then any unknown names sorted, so that an error shows them.
func formatQueueWorkers(m map[string]int) string {
	var parts []string
	for _, q := range Queues() {
		if n, ok := m[q]; ok {
			parts = append(parts, q+"="+strconv.Itoa(n))
		}
	}
	for _, name := range sortedKeys(m) {
		if !slices.Contains(Queues(), name) {
			parts = append(parts, name+"="+strconv.Itoa(m[name]))
		}
	}
	return strings.Join(parts, ",")
}

func sortedKeys(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}

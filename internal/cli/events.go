package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/riverqueue/river"
	"github.com/spf13/cobra"

	"insure/internal/config"
	"insure/internal/customer"
	"insure/internal/event"
	"insure/internal/notify"
	"insure/internal/policy"
	"insure/internal/queue"
	"insure/internal/quotation"
)

func newEventsCmd(e env, g *globals) *cobra.Command {
	events := &cobra.Command{Use: "events", Short: "Work with the event store"}
	var (
		demo    bool
		timeout time.Duration
	)
	test := &cobra.Command{
		Use:   "test",
		Short: "Self-check: drive every event type through its listeners and report ok or FAIL per listener",
		Long: "Runs the four workflows against a temporary SQLite database (or --database-url) with the queue workers " +
			"running, waits for every listener job, and prints one row per event type and listener. Exits 1 on any failure.\n" +
			"With --demo it seeds sample customers, quotations and policies and prints what happens as it happens.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(e, g)
			if err != nil {
				return err
			}
			tmp := ""
			if g.databaseURL == "" {
				tmp, err = os.MkdirTemp("", "insure-selfcheck-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				if err := cfg.Set("DATABASE_URL", filepath.Join(tmp, "insure.db")); err != nil {
					return err
				}
				cfg.DocumentsDir = filepath.Join(tmp, "documents")
			}
			selfCheckTuning(&cfg)
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			ok, err := selfCheck(ctx, e, cfg, demo)
			if err != nil {
				return err
			}
			if !ok {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	test.Flags().BoolVar(&demo, "demo", false, "seed sample data, run the four workflows and print what happens as it happens")
	test.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up waiting for listeners after this long")
	events.AddCommand(test, newEventsSchemaCmd(e, g), newEventsExportCmd(e, g), newEventsImportCmd(e, g), newEventsArchiveCmd(e, g))
	return events
}

// selfCheckTuning makes retries and polling fast: the check waits for every
// job, so minutes-long production backoffs would only slow it down.
func selfCheckTuning(cfg *config.Config) {
	cfg.QueueBackoff = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}
	cfg.QueueSnooze = 100 * time.Millisecond
	cfg.QueueFetchCooldown = 5 * time.Millisecond
	cfg.QueueFetchPollInterval = 20 * time.Millisecond
	if cfg.LogLevel < 8 { // quiet unless asked: the report is the output
		cfg.LogLevel = 8
	}
}

// printer serialises output lines from several goroutines.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *printer) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%7.3fs  %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

func selfCheck(ctx context.Context, e env, cfg config.Config, demo bool) (bool, error) {
	logger := newLogger(cfg, e.stderr)
	s, err := Open(ctx, cfg, logger, Options{Workers: true, Migrate: true})
	if err != nil {
		return false, err
	}
	defer s.Close()
	startHead, err := s.Store.Head(ctx, s.DB)
	if err != nil {
		return false, err
	}
	p := &printer{w: e.stdout, start: time.Now()}
	var watchers sync.WaitGroup
	wctx, stopWatch := context.WithCancel(ctx)
	if demo {
		fmt.Fprintf(e.stdout, "insure demo on %s\n\n", config.RedactDatabaseURL(cfg.DatabaseURL))
		watchers.Add(2)
		go func() { defer watchers.Done(); tailEvents(wctx, s, startHead, p) }()
		go func() { defer watchers.Done(); watchJobs(wctx, s, p) }()
	}
	if err := s.Queue.Start(ctx); err != nil {
		stopWatch()
		return false, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = s.Queue.Stop(sctx)
	}()
	runErr := runWorkflows(ctx, s, demo, p)
	idleErr := s.WaitIdle(ctx)
	stopWatch()
	watchers.Wait()
	if runErr != nil {
		return false, fmt.Errorf("workflows: %w", runErr)
	}
	if idleErr != nil {
		fmt.Fprintln(e.stdout, "listeners did not finish:", idleErr)
	}
	rows, err := checkListeners(ctx, s, startHead)
	if err != nil {
		return false, err
	}
	if demo {
		fmt.Fprintln(e.stdout)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EVENT\tLISTENER\tRESULT\tDETAIL")
	ok := idleErr == nil
	for _, r := range rows {
		res := "ok"
		if !r.ok {
			res, ok = "FAIL", false
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.event, r.listener, res, r.detail)
	}
	if err := w.Flush(); err != nil {
		return false, err
	}
	if ok {
		fmt.Fprintln(e.stdout, "self-check passed")
	} else {
		fmt.Fprintln(e.stdout, "self-check FAILED")
	}
	return ok, nil
}

// runWorkflows runs the four workflows of the original system.
func runWorkflows(ctx context.Context, s *System, demo bool, p *printer) error {
	say := func(format string, args ...any) {
		if demo {
			p.line("▶ "+format, args...)
		}
	}
	ec := event.Context{Actor: "self-check", Channel: "cli"}
	suffix := strings.ReplaceAll(event.NewID()[24:], "-", "")
	type person struct {
		name, email, phone string
		prefs              customer.Preferences
	}
	people := []person{
		{"Asha Verma", "asha." + suffix + "@example.com", "+91 98765 43210", customer.Preferences{Email: true, WhatsApp: true}},
		{"Rohan Mehta", "rohan." + suffix + "@example.com", "98200 12345", customer.Preferences{Email: true, WhatsApp: false}},
	}
	if demo {
		people = append(people, person{"Meera Iyer", "meera." + suffix + "@example.com", "+91 99000 11223", customer.Preferences{Email: false, WhatsApp: true}})
	}
	var ids []string
	for _, pp := range people {
		say("register customer %s (workflow 1)", pp.name)
		prefs := pp.prefs
		c, err := s.Customers.Register(ctx, ec, customer.Register{Name: pp.name, Email: pp.email, Phone: pp.phone, Channel: "admin", Preferences: &prefs})
		if err != nil {
			return fmt.Errorf("register %s: %w", pp.name, err)
		}
		ids = append(ids, c.ID)
	}
	first := ids[0]
	token, err := s.Customers.Secrets.VerificationToken(ctx, first, people[0].email)
	if err != nil {
		return err
	}
	say("verify the first customer's email with the token from the welcome email")
	if _, err := s.Customers.VerifyEmail(ctx, ec, first, token); err != nil {
		return fmt.Errorf("verify email: %w", err)
	}
	newPhone := "+91 91234 56789"
	say("update the first customer's phone number")
	if _, err := s.Customers.Update(ctx, ec, first, nil, customer.UpdateProfile{Phone: &newPhone}); err != nil {
		return fmt.Errorf("update profile: %w", err)
	}
	ncb := 25
	motor, _ := json.Marshal(map[string]any{"vehicle_make": "Maruti", "vehicle_model": "Swift", "vehicle_year": s.Now().Year() - 3, "ncb_percent": ncb})
	say("request a motor quotation of INR 12 lakh (high value) for the first customer (workflow 2)")
	qt, err := s.Quotations.Request(ctx, ec, quotation.Request{CustomerID: first, Product: "motor", SumInsured: 120_000_000, Details: motor})
	if err != nil {
		return fmt.Errorf("request quotation: %w", err)
	}
	if demo {
		health, _ := json.Marshal(map[string]any{"age": 42, "members": 4})
		say("request a health quotation of INR 10 lakh for a family of four")
		if _, err := s.Quotations.Request(ctx, ec, quotation.Request{CustomerID: ids[1], Product: "health", SumInsured: 100_000_000, Details: health}); err != nil {
			return fmt.Errorf("request quotation: %w", err)
		}
	}
	// The policy is issued from the generated quotation.
	var premium int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		q, err := s.Quotations.Get(ctx, qt.ID)
		if err != nil {
			return err
		}
		if q.Status == "generated" {
			for _, quote := range q.Quotes {
				if !quote.Declined && (premium == 0 || quote.Premium < premium) {
					premium = quote.Premium
				}
			}
			break
		}
		if q.Status == "failed" || time.Now().After(deadline) {
			return fmt.Errorf("quotation %s is %s", qt.ID, q.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	today := policy.DateOf(s.Now())
	start, end := today.AddDays(-355), today.AddDays(10)
	qid := qt.ID
	say("issue a motor policy from the quotation, ending in 10 days")
	pol, err := s.Policies.Create(ctx, ec, policy.Create{CustomerID: first, QuotationID: &qid, Insurer: "acme", Product: "motor",
		Premium: premium, SumInsured: 120_000_000, StartDate: start.String(), EndDate: end.String()})
	if err != nil {
		return fmt.Errorf("create policy: %w", err)
	}
	if demo {
		for i, days := range []int{5, 25} {
			st, en := today.AddDays(days-365), today.AddDays(days)
			say("issue a health policy for customer %d ending in %d days", i+2, days)
			if _, err := s.Policies.Create(ctx, ec, policy.Create{CustomerID: ids[i+1], Insurer: "bharat", Product: "health",
				Premium: 2_500_000, SumInsured: 50_000_000, StartDate: st.String(), EndDate: en.String()}); err != nil {
				return fmt.Errorf("create policy: %w", err)
			}
		}
	}
	say("run the daily expiry scan (workflow 3)")
	report, err := s.Policies.ScanExpiring(ctx, ec, nil)
	if err != nil {
		return fmt.Errorf("expiry scan: %w", err)
	}
	say("expiry scan warned %d of %d policies; a second scan today warns none", len(report.Warned), report.Scanned)
	again, err := s.Policies.ScanExpiring(ctx, ec, nil)
	if err != nil {
		return err
	}
	if len(again.Warned) != 0 {
		return fmt.Errorf("a second expiry scan on the same day warned %d policies again", len(again.Warned))
	}
	say("renew the first policy for another year")
	if _, err := s.Policies.Renew(ctx, ec, pol.ID, policy.Renew{}); err != nil {
		return fmt.Errorf("renew policy: %w", err)
	}
	last := ids[len(ids)-1]
	say("erase the personal data of the last customer at their request: their key is destroyed, their policy stays")
	if _, err := s.Erasure.Erase(ctx, ec, last); err != nil {
		return fmt.Errorf("erase personal data: %w", err)
	}
	say("wait for every listener: emails and WhatsApp messages are delivered by workflow 4")
	return nil
}

func tailEvents(ctx context.Context, s *System, after int64, p *printer) {
	for {
		done := ctx.Err() != nil
		// Read with a context of its own: the last pass, after ctx ended,
		// prints what the run recorded since the previous one.
		for {
			envs, err := s.Store.ReadAll(context.WithoutCancel(ctx), s.DB, after, 100, nil)
			if err != nil || len(envs) == 0 {
				break
			}
			for _, env := range envs {
				after = env.Position
				var names []string
				for _, d := range s.Listeners.ForEvent(env.EventName) {
					names = append(names, d.Name)
				}
				next := ""
				if len(names) > 0 {
					next = " → " + strings.Join(names, ", ")
				}
				p.line("  #%d %s %s/%s…%s", env.Position, env.EventName, env.AggregateType, env.AggregateID[:8], next)
			}
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func watchJobs(ctx context.Context, s *System, p *printer) {
	events, cancel := s.Queue.Subscribe()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			var args queue.ListenerArgs
			if json.Unmarshal(ev.Job.EncodedArgs, &args) != nil || args.Listener == "" {
				continue
			}
			took := ""
			if ev.JobStats != nil {
				took = fmt.Sprintf(" in %s", ev.JobStats.RunDuration.Round(time.Microsecond))
			}
			switch ev.Kind {
			case river.EventKindJobCompleted:
				p.line("    ✓ %s (%s)%s", args.Listener, ev.Job.Queue, took)
			case river.EventKindJobSnoozed:
				p.line("    … %s waits (%s)", args.Listener, ev.Job.Queue)
			case river.EventKindJobFailed:
				p.line("    ✗ %s failed, attempt %d of %d", args.Listener, ev.Job.Attempt, ev.Job.MaxAttempts)
			case river.EventKindJobCancelled:
				p.line("    ✗ %s gave up", args.Listener)
			}
		}
	}
}

type checkRow struct {
	event, listener string
	ok              bool
	detail          string
}

// checkListeners builds one row per event type and listener from what the
// run stored: every job an event started must have completed, and the
// listener's effect must be there.
func checkListeners(ctx context.Context, s *System, after int64) ([]checkRow, error) {
	byName := map[string][]event.Envelope{}
	for pos := after; ; {
		envs, err := s.Store.ReadAll(ctx, s.DB, pos, 0, nil)
		if err == nil {
			err = s.Store.Open(ctx, s.DB, envs)
		}
		if err != nil {
			return nil, err
		}
		if len(envs) == 0 {
			break
		}
		for _, env := range envs {
			pos = env.Position
			byName[env.EventName] = append(byName[env.EventName], env)
		}
	}
	var rows []checkRow
	for _, name := range s.Registry.Names() {
		envs := byName[name]
		defs := s.Listeners.ForEvent(name)
		if len(defs) == 0 {
			rows = append(rows, effectRow(ctx, s, name, envs))
			continue
		}
		for _, d := range defs {
			row := checkRow{event: name, listener: d.Name}
			if len(envs) == 0 {
				if why := notInSelfCheck(name); why != "" {
					row.ok, row.detail = true, why
				} else {
					row.detail = "no event of this type was recorded"
				}
				rows = append(rows, row)
				continue
			}
			started, done := 0, 0
			var bad []string
			for _, env := range envs {
				jobs, err := s.Queue.JobsForEvent(ctx, env.EventID)
				if err != nil {
					return nil, err
				}
				for _, j := range jobs {
					var a queue.ListenerArgs
					if json.Unmarshal(j.EncodedArgs, &a) != nil || a.Listener != d.Name {
						continue
					}
					started++
					if j.State == "completed" {
						done++
					} else {
						bad = append(bad, fmt.Sprintf("job %d is %s", j.ID, j.State))
					}
				}
			}
			row.ok = started > 0 && done == started
			row.detail = fmt.Sprintf("%d of %d jobs completed", done, started)
			if started == 0 {
				row.detail = "no job was started for this listener"
			}
			if len(bad) > 0 {
				row.detail += "; " + strings.Join(bad, ", ")
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// notInSelfCheck says why the happy path of the self-check does not produce
// an event type ("" when it should).
func notInSelfCheck(name string) string {
	switch name {
	case "QuotationGenerationFailed", "MessageFailed", "MessageSkipped", "MessageRequeued":
		return "not produced by this run (failure path; covered by the test suite)"
	case "DataAccessed":
		return "not produced by this run (recorded by reads through the API; covered by the test suite)"
	case "MessageDelivered":
		return "not produced by this run (comes from the WhatsApp delivery webhook; covered by the test suite)"
	}
	return ""
}

// effectRow checks the effect of an event type no listener reacts to.
func effectRow(ctx context.Context, s *System, name string, envs []event.Envelope) checkRow {
	row := checkRow{event: name, listener: "(no listener)"}
	if len(envs) == 0 {
		row.detail = "no event of this type was recorded"
		if why := notInSelfCheck(name); why != "" {
			row.ok, row.detail = true, why
		}
		return row
	}
	count := func(q string) int {
		var n int
		if err := s.DB.QueryRow(ctx, q).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	switch name {
	case "MessageSent":
		mails, err := notify.RecordedEmails(ctx, s.DB, s.Vault)
		was, err2 := notify.RecordedWhatsApps(ctx, s.DB, s.Vault)
		if err != nil || err2 != nil {
			row.detail = fmt.Sprint("read recorded messages: ", err, err2)
			return row
		}
		sent := count(`SELECT COUNT(*) FROM messages WHERE status = 'sent'`)
		row.ok = sent == len(envs) && len(mails)+len(was) >= len(envs)
		row.detail = fmt.Sprintf("%d sent, %d emails and %d WhatsApp messages recorded by the log drivers", sent, len(mails), len(was))
	case "PDFGenerated":
		n := 0
		for _, env := range envs {
			if _, err := os.Stat(mustPath(s, env.AggregateID)); err == nil {
				n++
			}
		}
		row.ok = n == len(envs)
		row.detail = fmt.Sprintf("%d of %d PDF files on disk", n, len(envs))
	case customer.EventErased:
		n := count(`SELECT COUNT(*) FROM data_keys WHERE destroyed_at IS NOT NULL`)
		row.ok = n >= len(envs)
		row.detail = fmt.Sprintf("%d erasures recorded, %d customer keys destroyed", len(envs), n)
	case "CustomerActionLogged":
		n := count(`SELECT COUNT(*) FROM audit_log`)
		row.ok = n >= len(envs)
		row.detail = fmt.Sprintf("%d events stored, %d audit entries", len(envs), n)
	default:
		row.ok = true
		row.detail = fmt.Sprintf("%d events stored and projected", len(envs))
	}
	return row
}

func mustPath(s *System, id string) string {
	p, err := s.Files.Path(id)
	if err != nil {
		return ""
	}
	return p
}

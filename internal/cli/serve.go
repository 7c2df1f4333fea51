package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"insure/internal/app"
	"insure/internal/config"
)

func newServeCmd(e env, g *globals) *cobra.Command {
	var (
		addr    string
		workers bool
		grace   time.Duration
		pprofAt string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API and the queue workers (applies migrations first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(e, g)
			if err != nil {
				return err
			}
			if addr != "" {
				if err := cfg.Set("HTTP_ADDR", addr); err != nil {
					return fmt.Errorf("--addr: %w", err)
				}
			}
			if pprofAt != "" {
				stop, err := startPprof(pprofAt, newLogger(cfg, e.stderr))
				if err != nil {
					return err
				}
				defer stop(context.WithoutCancel(cmd.Context()))
			}
			if !cmd.Flags().Changed("shutdown-grace") {
				grace = cfg.ShutdownGrace
			}
			return serve(cmd.Context(), e, cfg, workers, grace, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (overrides HTTP_ADDR)")
	cmd.Flags().BoolVar(&workers, "workers", true, "also run the queue workers in this process; --workers=0 (or =false) serves the API only, for use with insure worker processes")
	cmd.Flags().DurationVar(&grace, "shutdown-grace", 30*time.Second, "how long in-flight requests and jobs may take to finish on shutdown (default SHUTDOWN_GRACE)")
	cmd.Flags().StringVar(&pprofAt, "pprof", "", "serve Go profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off when empty)")
	return cmd
}

// serve runs until ctx ends. ready, when set, receives the listening
// address (tests use it).
func serve(ctx context.Context, e env, cfg config.Config, workers bool, grace time.Duration, ready chan<- string) error {
	logger := newLogger(cfg, e.stderr)
	s, err := Open(ctx, cfg, logger, Options{Workers: workers, Migrate: true})
	if err != nil {
		return err
	}
	defer s.Close()
	l, err := listen(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	// The jobs' contexts derive from the one Start gets: the signal must
	// not cancel them at once, but only after the grace (Queue.Stop below).
	if err := s.Queue.Start(context.WithoutCancel(ctx)); err != nil {
		l.Close()
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	logger.Info("insure serving", "addr", l.Addr().String(), "database", config.RedactDatabaseURL(cfg.DatabaseURL), "workers", workers)
	if tokens, err := s.Tokens.List(ctx); err == nil {
		active := 0
		for _, t := range tokens {
			if !t.Revoked() {
				active++
			}
		}
		if active == 0 {
			logger.Warn("no API token exists, so every API call answers 401: create one with `insure token create --name NAME --role admin`, or set INSURE_ADMIN_TOKEN")
		}
	}
	if ready != nil {
		ready <- l.Addr().String()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
	}
	logger.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	herr := srv.Shutdown(sctx)
	qerr := s.Queue.Stop(sctx)
	return errors.Join(herr, qerr)
}

func newWorkerCmd(e env, g *globals) *cobra.Command {
	var (
		grace   time.Duration
		addr    string
		pprofAt string
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run queue workers only (more workers against PostgreSQL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(e, g)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("shutdown-grace") {
				grace = cfg.ShutdownGrace
			}
			logger := newLogger(cfg, e.stderr)
			ctx := cmd.Context()
			s, err := Open(ctx, cfg, logger, Options{Workers: true, Migrate: true})
			if err != nil {
				return err
			}
			defer s.Close()
			if pprofAt != "" {
				stop, err := startPprof(pprofAt, logger)
				if err != nil {
					return err
				}
				defer stop(context.WithoutCancel(ctx))
			}
			// Not ctx: the signal would cancel running jobs at once instead
			// of after the grace (Queue.Stop below).
			if err := s.Queue.Start(context.WithoutCancel(ctx)); err != nil {
				return err
			}
			var (
				ops    *http.Server
				opsErr = make(chan error, 1)
			)
			if addr != "" {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
					defer cancel()
					return errors.Join(fmt.Errorf("--addr %s: %w", addr, err), s.Queue.Stop(sctx))
				}
				ops = &http.Server{Handler: s.opsHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
					WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
					ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
				go func() { opsErr <- ops.Serve(l) }()
				logger.Info("worker metrics and health checks served", "addr", l.Addr().String())
			}
			logger.Info("insure worker running", "database", config.RedactDatabaseURL(cfg.DatabaseURL))
			var serveErr error
			select {
			case <-ctx.Done():
			case serveErr = <-opsErr:
				// The ops server stopped by itself: shut down rather than
				// run on unobserved.
				serveErr = fmt.Errorf("worker metrics and health server: %w", serveErr)
				logger.Error("stopping", "error", serveErr.Error())
			}
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
			defer cancel()
			qerr := errors.Join(serveErr, s.Queue.Stop(sctx))
			if ops != nil {
				qerr = errors.Join(qerr, ops.Shutdown(sctx))
			}
			return qerr
		},
	}
	cmd.Flags().DurationVar(&grace, "shutdown-grace", 30*time.Second, "how long in-flight jobs may take to finish on shutdown (default SHUTDOWN_GRACE)")
	cmd.Flags().StringVar(&addr, "addr", "", "serve GET /metrics, /healthz and /readyz on this address (off when empty)")
	cmd.Flags().StringVar(&pprofAt, "pprof", "", "serve Go profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6061 (off when empty)")
	return cmd
}

// opsHandler serves what a worker process shows operators: its metrics
// and the health checks (the same answers as the API's /healthz and
// /readyz).
func (s *System) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeOpsJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	health := s.Health()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rd := health.Ready(r.Context())
		status := http.StatusOK
		if rd.Status == app.StatusFailing {
			status = http.StatusServiceUnavailable
		}
		writeOpsJSON(w, status, rd)
	})
	return mux
}

func writeOpsJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newMigrateCmd(e env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations and print their versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(e, g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := openDB(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			own, river, err := migrate(ctx, db, newLogger(cfg, e.stderr))
			if err != nil {
				return err
			}
			for _, m := range own {
				state := "already applied"
				if m.Applied {
					state = "applied now"
				}
				fmt.Fprintf(e.stdout, "insure %05d %-28s %s\n", m.Version, m.Source, state)
			}
			if len(river) == 0 {
				fmt.Fprintln(e.stdout, "queue  (river) schema up to date")
			}
			for _, v := range river {
				fmt.Fprintf(e.stdout, "queue  (river) %03d applied now\n", v)
			}
			return nil
		},
	}
}

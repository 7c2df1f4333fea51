package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"insure/internal/config"
)

func newServeCmd(e env, g *globals) *cobra.Command {
	var (
		addr    string
		workers bool
		grace   time.Duration
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
			return serve(cmd.Context(), e, cfg, workers, grace, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (overrides HTTP_ADDR)")
	cmd.Flags().BoolVar(&workers, "workers", true, "also run the queue workers in this process")
	cmd.Flags().DurationVar(&grace, "shutdown-grace", 30*time.Second, "how long in-flight requests and jobs may take to finish on shutdown")
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
	if err := s.Queue.Start(ctx); err != nil {
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
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run queue workers only (more workers against PostgreSQL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(e, g)
			if err != nil {
				return err
			}
			logger := newLogger(cfg, e.stderr)
			ctx := cmd.Context()
			s, err := Open(ctx, cfg, logger, Options{Workers: true, Migrate: true})
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Queue.Start(ctx); err != nil {
				return err
			}
			logger.Info("insure worker running", "database", config.RedactDatabaseURL(cfg.DatabaseURL))
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
			defer cancel()
			return s.Queue.Stop(sctx)
		},
	}
	cmd.Flags().DurationVar(&grace, "shutdown-grace", 30*time.Second, "how long in-flight jobs may take to finish on shutdown")
	return cmd
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

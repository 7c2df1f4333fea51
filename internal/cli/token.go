package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"insure/internal/apperr"
	"insure/internal/auth"
	"insure/internal/database"
)

// newTokenCmd is "insure token": create, list and revoke API tokens.
func newTokenCmd(e env, g *globals) *cobra.Command {
	token := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
		Long: "API tokens authenticate calls to the HTTP API. Each has a name and a role\n" +
			"(" + roleNames() + "). insure stores only a token's SHA-256, so a token is\n" +
			"shown once, when it is created.",
	}

	var name, role string
	create := &cobra.Command{
		Use:   "create --name NAME --role ROLE",
		Short: "Create a token and print it on stdout (it cannot be shown again)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return fmt.Errorf("give the token a name with --name (1 to %d of A-Z a-z 0-9 . _ -)", auth.MaxNameLength)
			}
			if err := auth.ValidateName(name); err != nil {
				return flagError("--name", err)
			}
			if role == "" {
				return fmt.Errorf("give the token a role with --role: one of %s", roleNames())
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return flagError("--role", err)
			}
			return withTokens(cmd.Context(), e, g, func(ctx context.Context, s *auth.Store) error {
				raw, t, err := s.Create(ctx, name, r)
				if apperr.IsCode(err, apperr.Conflict) {
					return fmt.Errorf("a token named %q already exists: revoke it first (insure token revoke %s) or choose another name", name, name)
				}
				if err != nil {
					return err
				}
				// stdout gets the token alone, so that TOKEN=$(insure token create …) works.
				fmt.Fprintln(e.stdout, raw)
				fmt.Fprintf(e.stderr, "Created token %q (role %s, id %s).\nStore it now: it cannot be shown again. insure keeps only its hash.\n", t.Name, t.Role, t.ID)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "the token's name: 1 to 64 of A-Z a-z 0-9 . _ - (unique among tokens not revoked)")
	create.Flags().StringVar(&role, "role", "", "the token's role: "+roleNames())

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens, newest first, revoked ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTokens(cmd.Context(), e, g, func(ctx context.Context, s *auth.Store) error {
				tokens, err := s.List(ctx)
				if err != nil {
					return err
				}
				if len(tokens) == 0 {
					fmt.Fprintln(e.stdout, "no tokens (create one with: insure token create --name NAME --role ROLE)")
					return nil
				}
				w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tNAME\tROLE\tCREATED\tLAST USED\tREVOKED")
				revoked := 0
				for _, t := range tokens {
					if t.RevokedAt != nil {
						revoked++
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, formatTime(&t.CreatedAt), formatTime(t.LastUsedAt), formatTime(t.RevokedAt))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				noun := "tokens"
				if len(tokens) == 1 {
					noun = "token"
				}
				fmt.Fprintf(e.stdout, "%d %s, %d revoked (times in UTC)\n", len(tokens), noun, revoked)
				return nil
			})
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke a token by id or name; requests with it fail from then on",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return errors.New("give the id or the name of one token to revoke (see insure token list)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return withTokens(cmd.Context(), e, g, func(ctx context.Context, s *auth.Store) error {
				before := time.Now().UTC().Truncate(time.Microsecond)
				t, err := s.Revoke(ctx, args[0])
				if errors.Is(err, auth.ErrNotFound) {
					return fmt.Errorf("no token has the id or name %q (see insure token list)", args[0])
				}
				if err != nil {
					return err
				}
				if t.RevokedAt.Before(before) {
					fmt.Fprintf(e.stdout, "token %q (%s) was already revoked at %s UTC\n", t.Name, t.ID, formatTime(t.RevokedAt))
					return nil
				}
				fmt.Fprintf(e.stdout, "revoked token %q (%s, role %s)\n", t.Name, t.ID, t.Role)
				return nil
			})
		},
	}

	token.AddCommand(create, list, revoke)
	return token
}

// withTokens opens and migrates the configured database for fn. The token
// commands need nothing else of the system.
func withTokens(ctx context.Context, e env, g *globals, fn func(ctx context.Context, s *auth.Store) error) error {
	cfg, err := loadConfig(e, g)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := database.Migrate(ctx, db); err != nil {
		return err
	}
	return fn(ctx, auth.NewStore(db, time.Now))
}

// flagError words an input error from the auth package as a flag's.
func flagError(flag string, err error) error {
	if ae, ok := apperr.As(err); ok {
		return fmt.Errorf("%s: %s", flag, ae.Message)
	}
	return fmt.Errorf("%s: %w", flag, err)
}

func roleNames() string {
	names := make([]string, 0, len(auth.Roles()))
	for _, r := range auth.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"insure/internal/database"
	"insure/internal/keyring"
	"insure/internal/personal"
	"insure/internal/projection"
)

// newKeysCmd is "insure keys": make and rotate the master key.
func newKeysCmd(e env, g *globals) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Make and rotate the master key that protects personal data",
		Long: "Customers' personal data is encrypted at rest with a key per customer; the master\n" +
			"key (INSURE_MASTER_KEY or INSURE_MASTER_KEY_FILE) wraps those keys. Erasing a\n" +
			"customer destroys their key. Rotating the master key re-wraps every customer key\n" +
			"under a new master, without touching the encrypted data.",
	}

	var out string
	generate := &cobra.Command{
		Use:   "generate [--out FILE]",
		Short: "Make a random master key: print it (base64), or write it to a new file readable by its owner only",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := keyring.NewMasterKey()
			if err != nil {
				return err
			}
			if out == "" {
				fmt.Fprintln(e.stdout, m.Encode())
				fmt.Fprintf(e.stderr, "master key %s: keep it in a secret store, apart from the database and its backups\n", m.ID())
				return nil
			}
			if err := writeKeyFile(out, m); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("--out %s: the file exists; insure never overwrites a key file", out)
				}
				return err
			}
			fmt.Fprintf(e.stdout, "wrote master key %s to %s (mode 0600)\n", m.ID(), out)
			return nil
		},
	}
	generate.Flags().StringVar(&out, "out", "", "write the key to this new file (mode 0600) instead of printing it")

	var newKeyFile string
	rotate := &cobra.Command{
		Use:   "rotate --new-key-file FILE",
		Short: "Re-wrap every customer key under a new master key and recompute the search indexes",
		Long: "Rotate re-wraps every customer's data key under the new master key (read from\n" +
			"FILE; when FILE does not exist, a new random key is written to it first) and\n" +
			"recomputes the blind indexes that customer search uses, which the master key keys.\n" +
			"The encrypted data itself does not change.\n\n" +
			"Stop every insure process first: one still on the old key can neither read the\n" +
			"re-wrapped keys nor be trusted not to make new keys under the old master. An\n" +
			"interrupted rotation is resumed by running the same command again. Afterwards\n" +
			"configure the new key (INSURE_MASTER_KEY_FILE=FILE), restart, and destroy the old\n" +
			"key once no backup that needs it is kept.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if newKeyFile == "" {
				return errors.New("give the new master key with --new-key-file FILE (a new key is made in FILE when it does not exist)")
			}
			return rotateMasterKey(cmd.Context(), e, g, newKeyFile)
		},
	}
	rotate.Flags().StringVar(&newKeyFile, "new-key-file", "", "file holding the new master key (base64); made with a new random key when missing")

	keys.AddCommand(generate, rotate)
	return keys
}

// rotateMasterKey re-wraps the data keys under the key in newKeyFile and
// recomputes the blind indexes.
func rotateMasterKey(ctx context.Context, e env, g *globals, newKeyFile string) error {
	cfg, err := loadConfig(e, g)
	if err != nil {
		return err
	}
	current, err := existingMasterKey(cfg)
	if err != nil {
		return err
	}
	next, made, err := newMasterKey(newKeyFile)
	if err != nil {
		return err
	}
	if made {
		fmt.Fprintf(e.stdout, "wrote a new master key %s to %s (mode 0600)\n", next.ID(), newKeyFile)
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, _, err := migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	old := keyring.New(db, current, time.Now)
	n, err := old.Rotate(ctx, db, next)
	if err != nil {
		return fmt.Errorf("rotate from master key %s to %s (%d customer keys re-wrapped before the error; run the command again to resume): %w",
			current.ID(), next.ID(), n, err)
	}
	fmt.Fprintf(e.stdout, "re-wrapped %s under master key %s\n", plural(n, "customer key"), next.ID())
	m, err := reindex(ctx, db, next)
	if err != nil {
		return fmt.Errorf("recompute the search indexes under master key %s (the keys are rotated; run the command again to finish): %w", next.ID(), err)
	}
	fmt.Fprintf(e.stdout, "recomputed the search indexes of %s\n", plural(m, "customer"))
	fmt.Fprintf(e.stdout, "done: configure INSURE_MASTER_KEY_FILE=%s (or its content as INSURE_MASTER_KEY) and restart insure\n", newKeyFile)
	return nil
}

// reindex recomputes the blind indexes of the read models under master.
func reindex(ctx context.Context, db database.DB, master keyring.MasterKey) (int, error) {
	return projection.Reindex(ctx, db, personal.NewVault(keyring.New(db, master, time.Now)))
}

// newMasterKey reads the key in path, or writes a new one there when the
// file does not exist; made reports the latter.
func newMasterKey(path string) (m keyring.MasterKey, made bool, err error) {
	m, err = readKeyFile(path, "--new-key-file")
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return m, false, err
	}
	if m, err = keyring.NewMasterKey(); err != nil {
		return m, false, err
	}
	if err := writeKeyFile(path, m); err != nil {
		return m, false, fmt.Errorf("--new-key-file: %w", err)
	}
	return m, true, nil
}

// plural spells n things: "1 customer", "2 customers".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

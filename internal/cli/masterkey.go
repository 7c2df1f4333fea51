package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"insure/internal/config"
	"insure/internal/keyring"
)

// masterKeySuffix names the key file a SQLite database gets when no master
// key is configured: the database file's name plus this suffix.
const masterKeySuffix = ".master-key"

// loadMasterKey returns the master key the configuration names:
// INSURE_MASTER_KEY, else INSURE_MASTER_KEY_FILE, else (SQLite only) the key
// file next to the database, made on first start. PostgreSQL serves several
// processes, which must share one key: it needs the key configured.
func loadMasterKey(cfg config.Config, logger *slog.Logger) (keyring.MasterKey, error) {
	if cfg.MasterKey != "" {
		m, err := keyring.ParseMasterKey(cfg.MasterKey)
		if err != nil {
			return keyring.MasterKey{}, fmt.Errorf("INSURE_MASTER_KEY: %w", err)
		}
		return m, nil
	}
	if cfg.MasterKeyFile != "" {
		return readKeyFile(cfg.MasterKeyFile, "INSURE_MASTER_KEY_FILE")
	}
	target, err := cfg.Database()
	if err != nil {
		return keyring.MasterKey{}, err
	}
	if target.Driver != config.DriverSQLite {
		return keyring.MasterKey{}, errors.New("INSURE_MASTER_KEY or INSURE_MASTER_KEY_FILE is required with PostgreSQL: " +
			"every process must use the same master key (make one with insure keys generate)")
	}
	path := target.Path + masterKeySuffix
	m, err := readKeyFile(path, "the master key file next to the database")
	if !errors.Is(err, fs.ErrNotExist) {
		return m, err
	}
	m, err = keyring.NewMasterKey()
	if err != nil {
		return keyring.MasterKey{}, err
	}
	if err := writeKeyFile(path, m); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process made it first
			return readKeyFile(path, "the master key file next to the database")
		}
		return keyring.MasterKey{}, err
	}
	logger.Warn("made a new master key for the personal data of this SQLite database, next to it; "+
		"back it up apart from the database (without it the personal data cannot be read), "+
		"or set INSURE_MASTER_KEY / INSURE_MASTER_KEY_FILE", "file", path, "master_key_id", m.ID())
	return m, nil
}

// readKeyFile reads a master key file, refusing one that group or others
// may read.
func readKeyFile(path, what string) (keyring.MasterKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return keyring.MasterKey{}, fmt.Errorf("%s: %w", what, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return keyring.MasterKey{}, fmt.Errorf("%s %s: mode %04o lets group or others read the master key; chmod 600 it",
			what, path, info.Mode().Perm())
	}
	m, err := keyring.LoadMasterKeyFile(path)
	if err != nil {
		return keyring.MasterKey{}, fmt.Errorf("%s: %w", what, err)
	}
	return m, nil
}

// writeKeyFile writes m to a new file at path, readable by its owner only.
// It fails with fs.ErrExist when the file exists.
func writeKeyFile(path string, m keyring.MasterKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	if _, err := f.WriteString(m.Encode() + "\n"); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("master key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("master key file %s: %w", path, err)
	}
	return f.Close()
}

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
	m, path, err := configuredMasterKey(cfg)
	if path == "" || !errors.Is(err, fs.ErrNotExist) {
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

// existingMasterKey is loadMasterKey for commands that need the key the
// database was written with (keys rotate): it never makes one. A key made
// there could wrap nothing of the database, and a new key file next to it
// would stand where the lost one is to be restored.
func existingMasterKey(cfg config.Config) (keyring.MasterKey, error) {
	m, path, err := configuredMasterKey(cfg)
	if path != "" && errors.Is(err, fs.ErrNotExist) {
		return keyring.MasterKey{}, fmt.Errorf("the master key file next to the database, %s, is missing (%w): this command needs "+
			"the master key the database was written with; restore that file, or configure the key with INSURE_MASTER_KEY or INSURE_MASTER_KEY_FILE",
			path, fs.ErrNotExist)
	}
	return m, err
}

// configuredMasterKey reads the master key the configuration names. With no
// key configured on SQLite, it reads the key file next to the database and
// returns its path too (err wraps fs.ErrNotExist when the file is missing).
func configuredMasterKey(cfg config.Config) (m keyring.MasterKey, defaultPath string, err error) {
	if cfg.MasterKey != "" {
		m, err := keyring.ParseMasterKey(cfg.MasterKey)
		if err != nil {
			return keyring.MasterKey{}, "", fmt.Errorf("INSURE_MASTER_KEY: %w", err)
		}
		return m, "", nil
	}
	if cfg.MasterKeyFile != "" {
		m, err := readKeyFile(cfg.MasterKeyFile, "INSURE_MASTER_KEY_FILE")
		return m, "", err
	}
	target, err := cfg.Database()
	if err != nil {
		return keyring.MasterKey{}, "", err
	}
	if target.Driver != config.DriverSQLite {
		return keyring.MasterKey{}, "", errors.New("INSURE_MASTER_KEY or INSURE_MASTER_KEY_FILE is required with PostgreSQL: " +
			"every process must use the same master key (make one with insure keys generate)")
	}
	path := target.Path + masterKeySuffix
	m, err = readKeyFile(path, "the master key file next to the database")
	return m, path, err
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
//
// The key is written and synced to a temporary file in the same directory,
// which is then hard-linked to path: path appears complete or not at all.
// Creating path itself and writing to it would let a process starting at
// the same time (serve and worker on a new SQLite database) read it empty
// and fail, and a crash between the two would leave an empty key file.
func writeKeyFile(path string, m keyring.MasterKey) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("master key file %s: %w", path, fs.ErrExist)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(m.Encode() + "\n"); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("master key file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("master key file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("master key file %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("master key file: %w", err) // fs.ErrExist when another process made it first
	}
	// Make the new name durable too; a failure here leaves a complete file.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/spf13/cobra"

	"insure/internal/config"
	"insure/internal/eventstore"
)

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// exportFormatHelp describes the file events export writes and events
// import reads.
const exportFormatHelp = `The file is JSON Lines: one event a line, in position order, as the event
store keeps it: position, event_id, event_name, aggregate_type, aggregate_id,
aggregate_version, schema_version, data, metadata, occurred_at and created_at
(the envelope of GET /api/v1/events plus created_at). A file whose name ends
in .zst is compressed with zstd.

Personal fields stay sealed ("enc:v1:…"): the customers' data keys are not
in the file. They open only with the source's data_keys table and its master
key (MASTER_KEY or the master key file).`

func newEventsExportCmd(e env, g *globals) *cobra.Command {
	var (
		after int64
		to    string
	)
	cmd := &cobra.Command{
		Use:   "export --to FILE",
		Short: "Write the event store to a JSON Lines file, zstd-compressed when FILE ends in .zst",
		Long: "Writes every event after --after, up to the newest when the export starts, to FILE, reading " +
			"MAX_EVENTS_PER_BATCH events at a time. It writes a temporary file next to FILE and renames it " +
			"into place at the end, so a failed export leaves no partial file; --to - writes to standard " +
			"output instead. It prints, on standard error, the number of events, the first and last " +
			"positions, and the SHA-256 of the uncompressed content (give it to events import --sha256).\n\n" +
			exportFormatHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return errors.New("--to is required: a file to write, or - for standard output")
			}
			if after < 0 {
				return fmt.Errorf("--after %d: give a position of 0 or more", after)
			}
			cfg, err := loadConfig(e, g)
			if err != nil {
				return err
			}
			return exportEvents(cmd.Context(), e, cfg, after, to)
		},
	}
	cmd.Flags().Int64Var(&after, "after", 0, "export only the events after this position (0: from the start)")
	cmd.Flags().StringVar(&to, "to", "", "file to write, zstd-compressed when it ends in .zst; - for standard output")
	return cmd
}

func exportEvents(ctx context.Context, e env, cfg config.Config, after int64, to string) error {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	store := eventstore.New(db, cfg.MaxEventsPerBatch, nil)
	var sum eventstore.Summary
	if to == "-" {
		if sum, err = store.Export(ctx, db, after, e.stdout); err != nil {
			return err
		}
		printSummary(e.stderr, "exported", "to standard output", after, sum)
		return nil
	}
	err = writeAtomically(to, func(w io.Writer) error {
		if strings.HasSuffix(to, ".zst") {
			zw, err := zstd.NewWriter(w)
			if err != nil {
				return err
			}
			sum, err = store.Export(ctx, db, after, zw)
			if cerr := zw.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("compress: %w", cerr)
			}
			return err
		}
		sum, err = store.Export(ctx, db, after, w)
		return err
	})
	if err != nil {
		return err
	}
	printSummary(e.stderr, "exported", "to "+to, after, sum)
	return nil
}

// writeAtomically writes path through write: into a temporary file in the
// same directory, synced and renamed over path only when write succeeds.
// On failure it removes the temporary file and leaves path as it was.
func writeAtomically(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("--to %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--to %s: %w", path, err)
	}
	// Make the rename itself durable; not every platform can sync a
	// directory, and the file is complete either way.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func printSummary(w io.Writer, verb, where string, after int64, sum eventstore.Summary) {
	if sum.Count == 0 {
		fmt.Fprintf(w, "%s 0 events (none after position %d) %s\n", verb, after, where)
	} else {
		fmt.Fprintf(w, "%s %d events (positions %d to %d) %s\n", verb, sum.Count, sum.First, sum.Last, where)
	}
	fmt.Fprintf(w, "sha256 %s (of the uncompressed JSON Lines)\n", sum.SHA256)
}

func newEventsImportCmd(e env, g *globals) *cobra.Command {
	var from, sha string
	cmd := &cobra.Command{
		Use:   "import --from FILE",
		Short: "Load an events export into an empty event store",
		Long: "Loads a file written by events export (zstd-compressed or not: it looks at the content, not the " +
			"name; --from - reads standard input) into the event store of --database-url, which must be " +
			"empty: it refuses a store that holds any event. It applies the migrations first, so a new " +
			"database will do.\n\n" +
			"It checks every line before it commits anything: a complete event, an event name this " +
			"program knows, positions going up by one from the first line's, and each aggregate's versions " +
			"going up by one. It inserts MAX_EVENTS_PER_BATCH events at a time, sets the stream head to the " +
			"last position, then reads the events back and checks their number and content against the file. " +
			"It all happens in one transaction: on any failure nothing is imported. With --sha256 it also " +
			"checks the content against the checksum events export printed.\n\n" +
			"It writes the event store only. It runs no projection and enqueues no listener job: the read " +
			"models (customers, quotations, policies, messages, documents, the access log) and the email " +
			"claims stay empty until they are rebuilt from the events (insure projections rebuild), and no " +
			"email or WhatsApp message is sent again.\n\n" + exportFormatHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("--from is required: a file written by insure events export, or - for standard input")
			}
			cfg, err := loadConfig(e, g)
			if err != nil {
				return err
			}
			return importEvents(cmd.Context(), e, cfg, from, sha)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "file to load (written by insure events export); - for standard input")
	cmd.Flags().StringVar(&sha, "sha256", "", "refuse the file unless its uncompressed content has this SHA-256 (as events export printed it)")
	return cmd
}

func importEvents(ctx context.Context, e env, cfg config.Config, from, sha string) error {
	var src io.Reader = os.Stdin
	if from != "-" {
		f, err := os.Open(from)
		if err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		defer f.Close()
		src = f
	}
	r, closeFn, err := decompressed(src)
	if err != nil {
		return fmt.Errorf("--from %s: %w", from, err)
	}
	defer closeFn()
	reg, err := Registry()
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, _, err := migrate(ctx, db, newLogger(cfg, e.stderr)); err != nil {
		return err
	}
	store := eventstore.New(db, cfg.MaxEventsPerBatch, nil)
	sum, err := store.Import(ctx, r, eventstore.ImportOptions{
		Known:  func(name string) bool { _, ok := reg.Lookup(name); return ok },
		SHA256: sha,
	})
	if err != nil {
		return fmt.Errorf("--from %s: %w; nothing was imported", from, err)
	}
	printSummary(e.stderr, "imported", "from "+from, 0, sum)
	fmt.Fprintln(e.stderr, "read back and checked: the count and the content match the file")
	fmt.Fprintln(e.stderr, "no projection ran and no listener job was queued: rebuild the read models (insure projections rebuild) before serving")
	return nil
}

// decompressed returns r's content, decompressed when it is zstd, and a
// function that releases the decoder.
func decompressed(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, err := br.Peek(len(zstdMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	if !bytes.Equal(head, zstdMagic) {
		return br, func() {}, nil
	}
	zr, err := zstd.NewReader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("zstd: %w", err)
	}
	return zr, zr.Close, nil
}

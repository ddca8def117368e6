package command

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/snapshot"
	"github.com/shoalproject/shoal/state"
)

// newSnapshotCommand returns the "shoal snapshot" parent command.
func newSnapshotCommand() *helpOnlyCommand {
	return &helpOnlyCommand{
		synopsis: "Saves, restores and inspects snapshots of the server state",
		help: `
Usage: shoal snapshot <subcommand> [options] [args]

  Saves a point-in-time snapshot of the servers' state (KV, sessions,
  catalog, allocations, ACLs) to a file, restores one, or describes one. The files
  are Consul snapshot archives: "consul snapshot inspect" reads them.

      $ shoal snapshot save backup.snap
      $ shoal snapshot inspect backup.snap
      $ shoal snapshot restore backup.snap`,
	}
}

// snapshotSaveCommand implements "shoal snapshot save".
type snapshotSaveCommand struct{ baseCommand }

func newSnapshotSaveCommand(ui cli.Ui) *snapshotSaveCommand {
	c := &snapshotSaveCommand{}
	c.init(ui, "snapshot save", "Saves a snapshot of the server state", `
Usage: shoal snapshot save [options] FILE

  Saves a snapshot of the servers' state to FILE. The snapshot is taken on
  the leader unless -stale is given. It is downloaded to a temporary file
  next to FILE, verified (checksums of every member), and only then renamed
  to FILE: an existing FILE is never replaced by a bad snapshot.`, clientServerHTTP, nil)
	return c
}

func (c *snapshotSaveCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	file, msg := fileArg(c.flags)
	if msg != "" {
		return c.usageError(msg)
	}
	client := c.client()
	if client == nil {
		return 1
	}
	rc, _, err := client.Snapshot().Save(c.http.queryOptions())
	if err != nil {
		return c.fail("saving snapshot", err)
	}
	defer rc.Close()
	meta, err := saveVerified(file, rc)
	if err != nil {
		c.ui.Error(oneLine(err.Error()))
		return 1
	}
	c.ui.Output(fmt.Sprintf("Saved and verified snapshot to index %d", meta.Index))
	return 0
}

// saveVerified writes the archive read from r to a temporary file in
// file's directory, syncs and verifies it, then renames it to file. On
// error the temporary file is removed and file is untouched.
func saveVerified(file string, r io.Reader) (*snapshot.Meta, error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".unverified-*")
	if err != nil {
		return nil, fmt.Errorf("Error creating snapshot file: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, r); err != nil {
		return nil, fmt.Errorf("Error writing snapshot file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("Error writing snapshot file: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("Error verifying snapshot file: %w", err)
	}
	meta, err := snapshot.Verify(tmp)
	if err != nil {
		return nil, fmt.Errorf("Error verifying snapshot file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("Error writing snapshot file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return nil, fmt.Errorf("Error writing snapshot file: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return nil, fmt.Errorf("Error renaming snapshot file: %w", err)
	}
	keep = true
	return meta, nil
}

// snapshotRestoreCommand implements "shoal snapshot restore".
type snapshotRestoreCommand struct{ baseCommand }

func newSnapshotRestoreCommand(ui cli.Ui) *snapshotRestoreCommand {
	c := &snapshotRestoreCommand{}
	c.init(ui, "snapshot restore", "Restores a snapshot of the server state", `
Usage: shoal snapshot restore [options] FILE

  Restores the snapshot in FILE, replacing the whole state of the cluster
  (KV, sessions, catalog, allocations, ACLs) atomically. FILE is verified here
  first, and again by the leader before anything changes: a truncated or
  altered file is refused and the cluster is left as it was.

  This is a destructive operation: writes made since the snapshot are lost.`, clientHTTP, nil)
	return c
}

func (c *snapshotRestoreCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	file, msg := fileArg(c.flags)
	if msg != "" {
		return c.usageError(msg)
	}
	f, err := os.Open(file)
	if err != nil {
		c.ui.Error(oneLine(fmt.Sprintf("Error opening snapshot file: %v", err)))
		return 1
	}
	defer f.Close()
	if _, err := snapshot.Verify(f); err != nil {
		c.ui.Error(oneLine(fmt.Sprintf("Error verifying snapshot file %s: %v", file, err)))
		return 1
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		c.ui.Error(oneLine(fmt.Sprintf("Error reading snapshot file: %v", err)))
		return 1
	}
	client := c.client()
	if client == nil {
		return 1
	}
	if err := client.Snapshot().Restore(c.http.writeOptions(), f); err != nil {
		return c.fail("restoring snapshot", err)
	}
	c.ui.Output("Restored snapshot")
	return 0
}

// snapshotInspectCommand implements "shoal snapshot inspect".
type snapshotInspectCommand struct{ baseCommand }

func newSnapshotInspectCommand(ui cli.Ui) *snapshotInspectCommand {
	c := &snapshotInspectCommand{}
	c.init(ui, "snapshot inspect", "Displays information about a snapshot file", `
Usage: shoal snapshot inspect FILE

  Verifies the snapshot in FILE and prints its metadata (ID, size of the
  state, Raft index and term, snapshot format version), then the number of
  records of each table and the space they take, largest first. It reads
  only the file; no agent is needed.`, noHTTP, nil)
	return c
}

func (c *snapshotInspectCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	file, msg := fileArg(c.flags)
	if msg != "" {
		return c.usageError(msg)
	}
	f, err := os.Open(file)
	if err != nil {
		c.ui.Error(oneLine(fmt.Sprintf("Error opening snapshot file: %v", err)))
		return 1
	}
	defer f.Close()
	sp, err := snapshot.Spool(f, "")
	if err != nil {
		c.ui.Error(oneLine(fmt.Sprintf("Error verifying snapshot file %s: %v", file, err)))
		return 1
	}
	defer sp.Close()
	meta := sp.Meta
	c.ui.Output(formatTable([][]string{
		{"ID", meta.ID},
		{"Size", fmt.Sprint(meta.Size)},
		{"Index", fmt.Sprint(meta.Index)},
		{"Term", fmt.Sprint(meta.Term)},
		{"Version", fmt.Sprint(meta.Version)},
	}))
	_, stats, err := state.ScanSnapshot(sp)
	if err != nil {
		c.ui.Error(oneLine(fmt.Sprintf("Error reading the state in %s (not a Shoal snapshot?): %v", file, err)))
		return 1
	}
	c.ui.Output("")
	c.ui.Output(formatRecordStats(stats))
	return 0
}

// formatRecordStats lays out per-table statistics as Consul's inspect does:
// largest first, then by name, and a total.
func formatRecordStats(stats []state.RecordStats) string {
	sort.SliceStable(stats, func(i, j int) bool {
		if stats[i].Size != stats[j].Size {
			return stats[i].Size > stats[j].Size
		}
		return stats[i].Name < stats[j].Name
	})
	rows := [][]string{{"Type", "Count", "Size"}, {"----", "----", "----"}}
	var total int64
	for _, st := range stats {
		name := st.Name
		if name == "" {
			name = fmt.Sprintf("type %d", st.Type)
		}
		rows = append(rows, []string{name, fmt.Sprint(st.Count), byteSize(st.Size)})
		total += st.Size
	}
	rows = append(rows, []string{"----", "----", "----"}, []string{"Total", "", byteSize(total)})
	return formatTable(rows)
}

// byteSize formats n bytes as 512B, 2.9KB, 1.2MB or 3.0GB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v, suffix := float64(n)/unit, "KB"
	for _, s := range []string{"MB", "GB", "TB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f%s", v, suffix)
}

// fileArg reads the one required FILE argument.
func fileArg(fs *flag.FlagSet) (string, string) {
	if fs.NArg() == 0 {
		return "", "Missing FILE argument"
	}
	if msg := checkArgCount(fs.NArg(), 1); msg != "" {
		return "", msg
	}
	return fs.Arg(0), ""
}

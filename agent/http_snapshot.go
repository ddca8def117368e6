package agent

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server"
	"github.com/shoalproject/shoal/snapshot"
)

// snapshotRoutes serve /v1/snapshot as Consul does: GET streams an
// archive of the server state (from the leader, or any server with
// ?stale), PUT restores one from the request body.
func (a *Agent) snapshotRoutes() []route {
	return []route{
		{"/v1/snapshot", []string{http.MethodGet, http.MethodPut}, a.snapshot},
	}
}

func (a *Agent) snapshot(w http.ResponseWriter, r *http.Request) (any, error) {
	if r.Method == http.MethodPut {
		return nil, a.snapshotRestore(r)
	}
	return nil, a.snapshotSave(w, r)
}

func (a *Agent) snapshotSave(w http.ResponseWriter, r *http.Request) error {
	var opts rpcapi.QueryOptions
	if err := parseQuery(r, &opts); err != nil {
		return err
	}
	rc, meta, err := a.delegate.SnapshotSave(r.Context(), opts)
	if err != nil {
		return err
	}
	defer rc.Close()
	setMeta(w, &meta)
	w.Header().Set("Content-Type", "application/octet-stream")
	if as, ok := rc.(server.ArchiveSizer); ok && as.ArchiveSize() > 0 {
		// A transfer cut short is then an error for any HTTP client.
		w.Header().Set("Content-Length", strconv.FormatInt(as.ArchiveSize(), 10))
	}
	if _, err := io.Copy(w, rc); err != nil {
		// The status is sent: the client sees a truncated archive, which
		// its verification refuses.
		a.logger.Warn("snapshot: streaming to the client failed", "remote", r.RemoteAddr, "error", err)
	}
	return nil
}

func (a *Agent) snapshotRestore(r *http.Request) error {
	if _, stale := query(r)["stale"]; stale {
		return badRequest("stale not allowed for restore")
	}
	err := a.delegate.SnapshotRestore(r.Context(), query(r).Get("dc"), r.Body)
	if errors.Is(err, snapshot.ErrCorrupt) {
		return HTTPError{Code: http.StatusBadRequest, Msg: fmt.Sprintf("Snapshot restore refused, nothing changed: %v", err)}
	}
	return err
}

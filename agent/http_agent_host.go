package agent

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shoalproject/shoal/version"
)

// hostRoutes serves /v1/agent/version and /v1/agent/host.
func (a *Agent) hostRoutes() []route {
	return []route{
		{"/v1/agent/version", get, a.agentVersion},
		{"/v1/agent/host", get, a.agentHost},
	}
}

// agentVersion answers Consul's versionResponse.
func (a *Agent) agentVersion(w http.ResponseWriter, r *http.Request) (any, error) {
	return struct {
		SHA          string
		BuildDate    string
		HumanVersion string
		FIPS         string
	}{SHA: version.GitCommit, HumanVersion: version.Version}, nil
}

// hostInfo is Consul's debug.HostInfo: the host's memory, CPUs, OS and
// the data directory's disk, with the errors met while collecting them.
type hostInfo struct {
	Memory         map[string]uint64
	CPU            []map[string]string
	Host           map[string]any
	Disk           map[string]any
	CollectionTime int64
	Errors         []string
}

// agentHost reads the host's facts from /proc and statfs (Linux only;
// elsewhere the parts that cannot be read are listed in Errors).
func (a *Agent) agentHost(w http.ResponseWriter, r *http.Request) (any, error) {
	out := hostInfo{CollectionTime: time.Now().UnixNano(), Errors: []string{}, CPU: []map[string]string{}}
	var err error
	if out.Memory, err = readMeminfo(); err != nil {
		out.Errors = append(out.Errors, err.Error())
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err != nil {
		out.Errors = append(out.Errors, err.Error())
	} else {
		out.CPU = parseCPUInfo(b)
	}
	hostname, _ := os.Hostname()
	out.Host = map[string]any{"hostname": hostname, "os": runtime.GOOS, "kernelArch": runtime.GOARCH}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		out.Host["kernelVersion"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if up, err := strconv.ParseFloat(f[0], 64); err == nil {
				out.Host["uptime"] = uint64(up)
				out.Host["bootTime"] = uint64(time.Now().Unix()) - uint64(up)
			}
		}
	}
	dir := a.cfg.DataDir
	if dir == "" {
		dir = os.TempDir()
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		out.Errors = append(out.Errors, err.Error())
	} else {
		total, free := st.Blocks*uint64(st.Bsize), st.Bavail*uint64(st.Bsize)
		used := total - st.Bfree*uint64(st.Bsize)
		pct := 0.0
		if used+free > 0 {
			pct = float64(used) / float64(used+free) * 100
		}
		out.Disk = map[string]any{"path": dir, "total": total, "free": free, "used": used, "usedPercent": pct}
	}
	return out, nil
}

// readMeminfo returns /proc/meminfo in gopsutil's names (bytes).
func readMeminfo() (map[string]uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	kb := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.ParseUint(f[0], 10, 64); err == nil {
			kb[k] = n * 1024
		}
	}
	m := map[string]uint64{
		"total": kb["MemTotal"], "available": kb["MemAvailable"], "free": kb["MemFree"],
		"buffers": kb["Buffers"], "cached": kb["Cached"], "swapTotal": kb["SwapTotal"], "swapFree": kb["SwapFree"],
	}
	m["used"] = m["total"] - m["available"]
	return m, nil
}

// parseCPUInfo returns one entry per processor of /proc/cpuinfo.
func parseCPUInfo(b []byte) []map[string]string {
	names := map[string]string{"processor": "cpu", "vendor_id": "vendorId", "model name": "modelName",
		"cpu MHz": "mhz", "cache size": "cacheSize", "cpu cores": "cores", "physical id": "physicalId"}
	out := []map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "processor" {
			cur = map[string]string{}
			out = append(out, cur)
		}
		if name, ok := names[k]; ok && cur != nil {
			cur[name] = v
		}
	}
	return out
}

package exec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// procStat is what the driver reads of /proc/<pid>/stat.
type procStat struct {
	state      byte   // R, S, D, Z, ...
	pgid       int    // field 5
	startTicks uint64 // field 22: start time in clock ticks after boot
}

// readProcStat reads /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b)
}

func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed /proc stat")
	}
	// After ")": field 3 (state) onwards.
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("malformed /proc stat")
	}
	pgid, err := strconv.Atoi(string(f[2])) // field 5
	if err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat: pgrp: %w", err)
	}
	ticks, err := strconv.ParseUint(string(f[19]), 10, 64) // field 22
	if err != nil {
		return procStat{}, fmt.Errorf("malformed /proc stat: starttime: %w", err)
	}
	return procStat{state: f[0][0], pgid: pgid, startTicks: ticks}, nil
}

// alive reports whether pid is the process that started at startTicks and
// has not exited (a zombie has exited).
func alive(pid int, startTicks uint64) bool {
	st, err := readProcStat(pid)
	return err == nil && st.startTicks == startTicks && st.state != 'Z' && st.state != 'X'
}

// tail writes the last n lines of r (size bytes long) to w. A last line
// without a newline counts as a line.
func tail(r io.ReaderAt, size int64, n int, w io.Writer) error {
	const chunk = 32 << 10
	start := size
	newlines := 0
	buf := make([]byte, chunk)
	// Scan backwards for the newline that ends the line before the
	// wanted n (a final newline at the very end does not count).
	end := size
	if size > 0 {
		var last [1]byte
		if _, err := r.ReadAt(last[:], size-1); err != nil {
			return err
		}
		if last[0] == '\n' {
			end = size - 1
		}
	}
	pos := end
scan:
	for pos > 0 {
		m := int64(chunk)
		if pos < m {
			m = pos
		}
		pos -= m
		if _, err := r.ReadAt(buf[:m], pos); err != nil && err != io.EOF {
			return err
		}
		for i := m - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				newlines++
				if newlines == n {
					start = pos + i + 1
					break scan
				}
			}
		}
	}
	if newlines < n {
		start = 0
	}
	_, err := io.Copy(w, io.NewSectionReader(r, start, size-start))
	return err
}

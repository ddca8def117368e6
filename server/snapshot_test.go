package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/snapshot"
)

func TestSnapshotFrames(t *testing.T) {
	oversized := make([]byte, 4)
	binary.BigEndian.PutUint32(oversized, maxSnapshotFrame+1)
	tests := []struct {
		name    string
		wire    func(t *testing.T) []byte
		want    *snapshotRequest
		wantErr bool
	}{
		{"round trip", func(t *testing.T) []byte {
			var b bytes.Buffer
			req := &snapshotRequest{Op: snapshotSave, QueryOptions: rpcapi.QueryOptions{Datacenter: "dc1", AllowStale: true}}
			if err := writeFrame(&b, req); err != nil {
				t.Fatal(err)
			}
			b.WriteString("archive bytes follow")
			return b.Bytes()
		}, &snapshotRequest{Op: snapshotSave, QueryOptions: rpcapi.QueryOptions{Datacenter: "dc1", AllowStale: true}}, false},
		{"oversized header", func(t *testing.T) []byte { return oversized }, nil, true},
		{"truncated length", func(t *testing.T) []byte { return []byte{0, 0} }, nil, true},
		{"truncated body", func(t *testing.T) []byte { return []byte{0, 0, 0, 9, 0x81} }, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader(tc.wire(t))
			var got snapshotRequest
			err := readFrame(r, &got)
			if (err != nil) != tc.wantErr {
				t.Fatalf("readFrame: %v, want error %v", err, tc.wantErr)
			}
			if tc.want == nil {
				return
			}
			if !reflect.DeepEqual(&got, tc.want) {
				t.Errorf("got %+v, want %+v", got, *tc.want)
			}
			// The frame is read exactly: what follows is the archive.
			if rest, _ := r.ReadByte(); rest != 'a' {
				t.Errorf("readFrame consumed past its frame (next byte %q)", rest)
			}
		})
	}
}

// TestSnapshotErrorsCrossTheWire checks that the sentinels the agent maps
// to status codes survive a snapshot connection.
func TestSnapshotErrorsCrossTheWire(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		wantCorrupt  bool
		wantNoLeader bool
	}{
		{"corrupt archive", fmt.Errorf("%w: %w: state.bin", snapshot.ErrCorrupt, snapshot.ErrChecksum), true, false},
		{"no leader", fmt.Errorf("snapshot: restore: %w", rpcapi.ErrNoLeader), false, true},
		{"other", errors.New("disk full"), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var resp snapshotResponse
			encodeError(&resp, tc.err)
			var b bytes.Buffer
			if err := writeFrame(&b, &resp); err != nil {
				t.Fatal(err)
			}
			var got snapshotResponse
			if err := readFrame(&b, &got); err != nil {
				t.Fatal(err)
			}
			err := decodeError(&got)
			if err == nil || err.Error() != tc.err.Error() {
				t.Fatalf("decoded %v, want the text %q", err, tc.err)
			}
			if errors.Is(err, snapshot.ErrCorrupt) != tc.wantCorrupt {
				t.Errorf("errors.Is(ErrCorrupt) = %v, want %v", !tc.wantCorrupt, tc.wantCorrupt)
			}
			if rpcapi.IsErrNoLeader(err) != tc.wantNoLeader {
				t.Errorf("IsErrNoLeader = %v, want %v", !tc.wantNoLeader, tc.wantNoLeader)
			}
		})
	}
	if err := decodeError(&snapshotResponse{}); err != nil {
		t.Errorf("an empty response decoded to %v", err)
	}
}

func TestSnapshotMetaConversion(t *testing.T) {
	in := &raft.SnapshotMeta{
		Version: 1, ID: "2-9-1", Index: 9, Term: 2, Peers: []byte{1, 2},
		Configuration: raft.Configuration{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: "a", Address: "10.0.0.1:8300"},
			{Suffrage: raft.Nonvoter, ID: "b", Address: "10.0.0.2:8300"},
		}},
		ConfigurationIndex: 3, Size: 1234,
	}
	if got := raftMeta(archiveMeta(in)); !reflect.DeepEqual(got, in) {
		t.Errorf("round trip: got %+v, want %+v", got, in)
	}
}

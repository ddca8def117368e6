package command

import (
	"strconv"
	"testing"

	"github.com/shoalproject/shoal/version"
)

func TestVersionCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  []string
	}{
		{name: "prints version and protocol", wantOut: version.String() + "\nProtocol " + strconv.Itoa(version.ProtocolVersion) + "\n"},
		{
			name:     "positional argument is a usage error",
			args:     []string{"extra"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments", "Usage: shoal version"},
		},
		{
			name:     "unknown flag is a usage error",
			args:     []string{"-format=json"},
			wantCode: 1,
			wantErr:  []string{"flag provided but not defined: -format"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCommand(t, newVersion, tt.args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
		})
	}
}

package version

import "testing"

func TestFormat(t *testing.T) {
	tests := []struct {
		name    string
		version string
		commit  string
		want    string
	}{
		{name: "without commit", version: "0.1.0", want: "Shoal v0.1.0"},
		{name: "with commit", version: "0.1.0", commit: "abc1234", want: "Shoal v0.1.0 (abc1234)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := format(tt.version, tt.commit); got != tt.want {
				t.Errorf("format(%q, %q) = %q, want %q", tt.version, tt.commit, got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	if got, want := String(), format(Version, GitCommit); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if Version != "0.1.0" {
		t.Errorf("Version = %q, want 0.1.0", Version)
	}
	if ProtocolVersion != 2 {
		t.Errorf("ProtocolVersion = %d, want 2", ProtocolVersion)
	}
}

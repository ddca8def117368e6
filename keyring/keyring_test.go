package keyring

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"32 bytes", base64.StdEncoding.EncodeToString(make([]byte, 32)), true},
		{"24 bytes", base64.StdEncoding.EncodeToString(make([]byte, 24)), true},
		{"16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16)), true},
		{"15 bytes", base64.StdEncoding.EncodeToString(make([]byte, 15)), false},
		{"not base64", "%%%", false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadKey)) {
				t.Fatalf("Decode(%q) err %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

func TestGenerateIsAUsableKey(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate()
	if k, err := Decode(a); err != nil || len(k) != 32 || a == b {
		t.Fatalf("Generate() = %q (%v), then %q", a, err, b)
	}
}

// TestInitThenLoad checks the keyring file: created once from the
// configured key, then kept (a later key does not replace it), primary
// first.
func TestInitThenLoad(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := Load(dir); ok || err != nil {
		t.Fatalf("empty dir: ok=%v err=%v", ok, err)
	}
	k1, _ := Generate()
	k2, _ := Generate()
	if err := Init(dir, k1); err != nil {
		t.Fatal(err)
	}
	if err := Init(dir, k2); err != nil {
		t.Fatal(err)
	}
	kr, ok, err := Load(dir)
	if err != nil || !ok {
		t.Fatalf("load: ok=%v err=%v", ok, err)
	}
	if got := base64.StdEncoding.EncodeToString(kr.GetPrimaryKey()); got != k1 || len(kr.GetKeys()) != 1 {
		t.Fatalf("primary %s (%d keys), want %s alone", got, len(kr.GetKeys()), k1)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`["bad"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(dir); !errors.Is(err, ErrBadKey) {
		t.Fatalf("a bad key in the file: err %v", err)
	}
}

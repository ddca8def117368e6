package command

import "testing"

func TestWrap(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		indent int
		width  int
		want   string
	}{
		{name: "empty", in: "", indent: 2, width: 20, want: ""},
		{name: "fits", in: "one two", indent: 2, width: 20, want: "  one two"},
		{name: "wraps at width", in: "aaaa bbbb cccc dddd", indent: 2, width: 11, want: "  aaaa bbbb\n  cccc dddd"},
		{name: "long word kept whole", in: "abcdefghijkl x", indent: 1, width: 5, want: " abcdefghijkl\n x"},
		{name: "collapses whitespace", in: "a \n  b", indent: 0, width: 80, want: "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wrap(tt.in, tt.indent, tt.width); got != tt.want {
				t.Errorf("wrap = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckArgCount(t *testing.T) {
	tests := []struct {
		got, want int
		msg       string
	}{
		{0, 0, ""},
		{1, 1, ""},
		{2, 0, "Too many arguments (expected 0, got 2)"},
		{0, 1, "Too few arguments (expected 1, got 0)"},
	}
	for _, tt := range tests {
		if msg := checkArgCount(tt.got, tt.want); msg != tt.msg {
			t.Errorf("checkArgCount(%d, %d) = %q, want %q", tt.got, tt.want, msg, tt.msg)
		}
	}
}

func TestHelpTextFromFlags(t *testing.T) {
	fs := newFlagSet("x")
	fs.Bool("verbose", false, "Be chatty.")
	fs.String("name", "", "The `thing` to greet.")
	empty := newFlagSet("empty")
	got := helpText("\nUsage: shoal x\n\n  Does x.\n",
		flagSection{"Command Options", fs},
		flagSection{"Empty Options", empty},
		flagSection{"Nil Options", nil})
	want := "Usage: shoal x\n\n  Does x.\n\nCommand Options:\n\n" +
		"  -name=<thing>\n     The thing to greet.\n\n" +
		"  -verbose\n     Be chatty."
	if got != want {
		t.Errorf("helpText =\n%s\nwant\n%s", got, want)
	}
}

func TestFormatTable(t *testing.T) {
	got := formatTable([][]string{{"A", "Bee", "C"}, {"long", "", ""}, {"x", "y", "z"}})
	want := "A     Bee  C\nlong\nx     y    z"
	if got != want {
		t.Errorf("formatTable =\n%q\nwant\n%q", got, want)
	}
}

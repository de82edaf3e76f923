package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse: the config loader, given any bytes, never panics; it returns
// either a configuration or Problems, each naming the file, a line and a
// message (what make check and SIGHUP show the admin). make fuzz runs it for
// FUZZTIME; go test runs the seeds and testdata/fuzz/FuzzParse/.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("example.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"", "---\n", "listen: [\n", "uploads:\n  max_file_size: 5XB\n", "categories:\n  - id: x\n    roles: [nobody]\n",
		"a: &a [*a, *a]\nb: *a\n", "listen: \"\\x00\"\n", "uploads: {max_files: 99999999999999999999}\n",
		"calendar:\n  hours:\n    monday: [\"25:00-26:00\"]\n", "deadlines:\n  policies:\n    - within: \"-1d\"\n",
		"? [a, b]\n: c\n", "\xef\xbb\xbflisten: x\n", strings.Repeat("- ", 200) + "x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without an error")
			}
			_ = cfg.String()
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error is not Problems: %T %v", err, err)
		}
		for _, p := range ps {
			if p.File != "fuzz.yaml" || p.Msg == "" || p.Line < 0 {
				t.Fatalf("problem %+v: want the file, a line and a message", p)
			}
		}
	})
}

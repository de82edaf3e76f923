package web

import (
	"io/fs"
	"regexp"
	"testing"
	"time"
)

// TestCatalogueHasEveryKeyTheTemplatesUse: every {{t "key"}} of every
// template, and every key Go code asks for, is in the French catalogue (a
// missing one would show as ⟦key⟧ on a page).
func TestCatalogueHasEveryKeyTheTemplatesUse(t *testing.T) {
	mustParseTemplates(French, func(t time.Time) time.Time { return t })
	re := regexp.MustCompile(`\bt "([a-z0-9_.]+)"`)
	goRe := regexp.MustCompile(`cat\.T\("([a-z0-9_.]+[a-z0-9_])"`)
	check := func(file string, data []byte, re *regexp.Regexp) {
		for _, m := range re.FindAllSubmatch(data, -1) {
			if _, ok := French[string(m[1])]; !ok {
				t.Errorf("%s uses key %q, missing from the French catalogue", file, m[1])
			}
		}
	}
	files, _ := fs.Glob(templateFS, "templates/*.html")
	if len(files) == 0 {
		t.Fatal("no template embedded")
	}
	for _, f := range files {
		b, _ := fs.ReadFile(templateFS, f)
		check(f, b, re)
	}
	goFiles, _ := fs.Glob(osDir("."), "*.go")
	for _, f := range goFiles {
		b, _ := fs.ReadFile(osDir("."), f)
		check(f, b, goRe)
	}
}

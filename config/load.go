package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration file: where it is and what
// is expected instead.
type Problem struct {
	File string
	Line int
	// Path is the key path, e.g. "categories[2].redmine.tracker".
	Path string
	Msg  string
}

func (p Problem) Error() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Path == "" {
		return loc + ": " + p.Msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Path, p.Msg)
}

// Problems is every problem found in one file, in line order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads, checks and validates the configuration file at path, reads the
// secrets it names and applies the PASSERELLE_* environment overrides. The
// error, when not nil, is a Problems listing everything wrong at once.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load on bytes already read; name is used in error messages.
func Parse(name string, data []byte) (*Config, error) {
	v := &validator{file: name, lines: map[string]int{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, Problems{v.yamlProblem(err)}
	}
	if len(root.Content) == 0 {
		return nil, Problems{{File: name, Line: 1, Msg: "the file is empty: expected a YAML mapping (see config/example.yaml)"}}
	}
	doc := root.Content[0]
	v.indexLines(doc, "")
	v.checkKeys(doc, reflect.TypeOf(Config{}), "")
	if len(v.problems) > 0 {
		return nil, v.result()
	}
	cfg := &Config{File: name}
	if err := doc.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				v.problems = append(v.problems, v.yamlProblem(errors.New(msg)))
			}
			return nil, v.result()
		}
		return nil, Problems{v.yamlProblem(err)}
	}
	cfg.applyDefaults()
	cfg.loadSecrets(v)
	cfg.validate(v)
	if len(v.problems) > 0 {
		return nil, v.result()
	}
	return cfg, nil
}

// validator collects problems and knows the line of every key path.
type validator struct {
	file     string
	lines    map[string]int
	problems Problems
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlProblem turns a yaml.v3 error ("line 4: cannot unmarshal !!str `x` into
// int") into a Problem with a readable message.
func (v *validator) yamlProblem(err error) Problem {
	msg := err.Error()
	p := Problem{File: v.file}
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	msg = strings.Replace(msg, "cannot unmarshal", "wrong type: cannot read", 1)
	for goType, want := range map[string]string{
		"into int32": "as a whole number", "into int64": "as a whole number", "into int": "as a whole number",
		"into time.Duration": "as a duration such as 10s, 5m or 2h", "into bool": "as true or false",
		"into []config.Role": "as a list such as [tenant, owner]", "into []string": "as a list",
		"into map[string]config.ClientStatus": "as a mapping of Redmine status to client status",
	} {
		if strings.HasSuffix(msg, goType) {
			msg = strings.TrimSuffix(msg, goType) + want
			break
		}
	}
	p.Msg = msg
	return p
}

func (v *validator) result() Problems {
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
	return v.problems
}

// errf records a problem at the key path (or the nearest parent that exists in
// the file, for a missing key).
func (v *validator) errf(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: v.lineOf(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) lineOf(path string) int {
	for p := path; ; {
		if l, ok := v.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return v.lines[""]
		}
		p = p[:i]
	}
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// indexLines records the line of every key and sequence item.
func (v *validator) indexLines(n *yaml.Node, path string) {
	if _, ok := v.lines[path]; !ok {
		v.lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(path, n.Content[i].Value)
			v.lines[p] = n.Content[i].Line
			v.indexLines(n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			v.indexLines(c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// checkKeys reports every key of the document that the target type does not
// have, naming the keys allowed there. yaml.v3's KnownFields does not reach
// into custom unmarshalers and gives terse messages, hence this walk.
func (v *validator) checkKeys(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode || t == reflect.TypeOf(ByteSize(0)) {
			return // a type error, reported by Decode
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				hint := ""
				if secretKeys[key] {
					hint = "; secrets are never written in the YAML: name a file (…_file) or set the PASSERELLE_* variable"
				}
				v.problems = append(v.problems, Problem{File: v.file, Line: n.Content[i].Line, Path: join(path, key),
					Msg: fmt.Sprintf("unknown key %q; expected one of: %s%s", key, strings.Join(names, ", "), hint)})
				continue
			}
			v.checkKeys(n.Content[i+1], ft, join(path, key))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			v.checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v.checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	}
}

// secretKeys are keys people naturally try; the error then says where secrets go.
var secretKeys = map[string]bool{"api_key": true, "password": true, "secret": true, "redmine_secret": true, "inbound_secret": true, "key": true, "token": true}

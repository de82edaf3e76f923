// Package yamlpath reads and edits a YAML configuration by dotted key paths
// ("redmine.poll_interval"), keeping its comments: the end-to-end tests and
// the benchmark write each deployment's configuration from the stack's.
package yamlpath

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Read parses a YAML file whose top level is a mapping into its document
// node.
func Read(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", path)
	}
	return &doc, nil
}

// Get returns the scalar at a dotted key path, ok false when there is none.
func Get(doc *yaml.Node, path string) (string, bool) {
	n := doc.Content[0]
	for _, k := range strings.Split(path, ".") {
		if n.Kind != yaml.MappingNode {
			return "", false
		}
		next := child(n, k)
		if next == nil {
			return "", false
		}
		n = next
	}
	return n.Value, n.Kind == yaml.ScalarNode
}

// Set sets the scalar at a dotted key path, creating the missing keys. A
// value that parses as an integer is written as one (read back as a number).
func Set(doc *yaml.Node, path, value string) {
	n := doc.Content[0]
	keys := strings.Split(path, ".")
	for i, k := range keys {
		last := i == len(keys)-1
		next := child(n, k)
		if next == nil {
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if last {
				next = &yaml.Node{Kind: yaml.ScalarNode}
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, next)
		}
		if last {
			tag := "!!str"
			if _, err := strconv.Atoi(value); err == nil {
				tag = "!!int"
			}
			*next = yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
		}
		n = next
	}
}

// child returns the value of key k in mapping n (the last one if repeated).
func child(n *yaml.Node, k string) *yaml.Node {
	var next *yaml.Node
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == k {
			next = n.Content[j+1]
		}
	}
	return next
}

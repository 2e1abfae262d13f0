package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decode decodes b into c, refusing unknown keys. yaml.v3 reports
// decoding problems as "line N: field x not found in type config.Gateway"
// or "line N: cannot unmarshal !!str `15 minu...` into time.Duration";
// decode rewrites each into the key path, the line and the fix, e.g.
// "gateway.keepalive_intervall (line 7): unknown key; did you mean
// keepalive_interval?", by finding the node on that line in the document
// and the Go type the key path leads to in Config.
func decode(b []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		// A syntax error: "yaml: line 3: did not find expected key".
		msg := err.Error()
		if m := syntaxRE.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("line %s: not valid YAML: %s; check the indentation, quotes and brackets on that line and the one before", m[1], m[2])
		}
		return &Error{Problems: []string{msg}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return &Error{Problems: te.Errors}
	}
	ix := &nodeIndex{}
	ix.walk(&root, nil)
	var p problems
	for _, msg := range te.Errors {
		p.addLine(ix.explain(msg))
	}
	return p.err()
}

// step is one element of a key path: a mapping key, or a list index when
// index >= 0.
type step struct {
	key   string
	index int
}

// keyPath is the path of a node from the document root, written
// "hosts[1].address" or "retention.classes.logs".
type keyPath []step

// String writes the path as in error messages.
func (k keyPath) String() string {
	var b strings.Builder
	for _, s := range k {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

// label names the path in a message; the root is "the file".
func (k keyPath) label() string {
	if len(k) == 0 {
		return "the file"
	}
	return k.String()
}

// with returns a new path with s appended.
func (k keyPath) with(s step) keyPath {
	return append(k[:len(k):len(k)], s)
}

// nodeEntry is a value in the document with its path; key is the mapping
// key node holding it (nil for list items and the root).
type nodeEntry struct {
	path  keyPath
	key   *yaml.Node
	value *yaml.Node
	used  bool
}

// nodeIndex lists every value of a document in document order.
type nodeIndex struct {
	entries []*nodeEntry
}

// walk indexes n, found at path, and everything below it.
func (ix *nodeIndex) walk(n *yaml.Node, path keyPath) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			ix.entries = append(ix.entries, &nodeEntry{path: path, value: c})
			ix.walk(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := path.with(step{key: k.Value, index: -1})
			ix.entries = append(ix.entries, &nodeEntry{path: p, key: k, value: v})
			ix.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			p := path.with(step{index: i})
			ix.entries = append(ix.entries, &nodeEntry{path: p, value: v})
			ix.walk(v, p)
		}
	}
}

// find returns the first entry not yet used that ok accepts, marking it
// used, or nil.
func (ix *nodeIndex) find(ok func(*nodeEntry) bool) *nodeEntry {
	for _, e := range ix.entries {
		if !e.used && ok(e) {
			e.used = true
			return e
		}
	}
	return nil
}

// The messages of yaml.v3's TypeError that explain rewrites.
var (
	syntaxRE       = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)
	lineRE         = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)
	unknownFieldRE = regexp.MustCompile(`(?s)^field (.*) not found in type \S+$`)
	alreadySetRE   = regexp.MustCompile(`(?s)^field (.*) already set in type \S+$`)
	duplicateRE    = regexp.MustCompile(`(?s)^mapping key (".*") already defined at line (\d+)$`)
	cannotRE       = regexp.MustCompile("(?s)^cannot unmarshal (!![a-z]+)(?: `(.*)`)? into .+$")
)

// explain rewrites one yaml.v3 TypeError line into a problem line naming
// the key path. A message it cannot place is returned as it is.
func (ix *nodeIndex) explain(msg string) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	keyOn := func(name string) *nodeEntry {
		return ix.find(func(e *nodeEntry) bool { return e.key != nil && e.key.Line == line && e.key.Value == name })
	}
	if m := unknownFieldRE.FindStringSubmatch(rest); m != nil {
		if e := keyOn(m[1]); e != nil {
			return fmt.Sprintf("%s (line %d): unknown key; %s", e.path, line, unknownKeyHint(e.path[:len(e.path)-1], m[1]))
		}
		return fmt.Sprintf("%s (line %d): unknown key", m[1], line)
	}
	if m := duplicateRE.FindStringSubmatch(rest); m != nil {
		name, err := strconv.Unquote(m[1])
		if e := keyOn(name); err == nil && e != nil {
			return fmt.Sprintf("%s (line %d): appears twice (first at line %s); %s", e.path, line, m[2], keepOne(e.value))
		}
	}
	if m := alreadySetRE.FindStringSubmatch(rest); m != nil {
		if e := keyOn(m[1]); e != nil {
			return fmt.Sprintf("%s (line %d): appears twice; %s", e.path, line, keepOne(e.value))
		}
	}
	if m := cannotRE.FindStringSubmatch(rest); m != nil {
		tag, shown := m[1], m[2]
		e := ix.find(func(e *nodeEntry) bool {
			n := e.value
			if n.Line != line {
				return false
			}
			switch tag {
			case "!!map":
				return n.Kind == yaml.MappingNode
			case "!!seq":
				return n.Kind == yaml.SequenceNode
			}
			return n.Kind == yaml.ScalarNode && shownValue(n.Value) == shown
		})
		if e != nil {
			return fmt.Sprintf("%s (line %d): %s", e.path.label(), line, typeProblem(typeAt(e.path), e.value))
		}
		return msg
	}
	// A message of an UnmarshalYAML method, quoting the value it refused
	// (Duration: `invalid duration "3 days" (use e.g. 3d, 90d, 36h)`).
	e := ix.find(func(e *nodeEntry) bool {
		return e.value.Line == line && e.value.Kind == yaml.ScalarNode && strings.Contains(rest, strconv.Quote(e.value.Value))
	})
	if e != nil {
		return fmt.Sprintf("%s: %s", e.path.label(), rest)
	}
	return msg
}

// keepOne is the fix for a key given twice with the value n.
func keepOne(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode {
		return "merge the two into one"
	}
	return "keep one"
}

// shownValue is how yaml.v3 shows a scalar in "cannot unmarshal" messages.
func shownValue(v string) string {
	if len(v) > 10 {
		return v[:7] + "..."
	}
	return v
}

var (
	configType       = reflect.TypeFor[Config]()
	timeDurationType = reflect.TypeFor[time.Duration]()
	dayDurationType  = reflect.TypeFor[Duration]()
)

// typeAt returns the Go type the key path leads to in Config (pointers
// removed), or nil when the path leaves it.
func typeAt(path keyPath) reflect.Type {
	t := configType
	for _, s := range path {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case s.index >= 0:
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				return nil
			}
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			f, ok := fieldByKey(t, s.key)
			if !ok {
				return nil
			}
			t = f.Type
		case t.Kind() == reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// yamlKeys returns the keys a struct type takes, in field order, or nil
// for other types.
func yamlKeys(t reflect.Type) []string {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		if k, ok := yamlKey(t.Field(i)); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// fieldByKey returns the field of struct type t decoded from key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if k, ok := yamlKey(t.Field(i)); ok && k == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// yamlKey returns the key yaml.v3 decodes f from.
func yamlKey(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		return strings.ToLower(f.Name), true
	}
	return name, true
}

// unknownKeyHint suggests the closest key of the section at parent, or
// lists its keys when none is close.
func unknownKeyHint(parent keyPath, name string) string {
	keys := yamlKeys(typeAt(parent))
	if len(keys) == 0 {
		return fmt.Sprintf("%s takes no keys", parent.label())
	}
	if k := closestKey(name, keys); k != "" {
		return "did you mean " + k + "?"
	}
	if len(parent) == 0 {
		return "valid top-level keys: " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("valid keys of %s: %s", parent, strings.Join(keys, ", "))
}

// closestKey returns the key of keys nearest to name by edit distance
// when it is close enough to be a typo (up to a third of the key's length,
// at most 3 edits; case, '-' and '_' are ignored), else "".
func closestKey(name string, keys []string) string {
	best, bestDist := "", -1
	for _, k := range keys {
		d := editDistance(normalizeKey(name), normalizeKey(k))
		if d2 := editDistance(strings.ToLower(name), k); d2 < d {
			d = d2
		}
		if d > max(1, min(3, len(k)/3)) {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// normalizeKey lower-cases s and drops '_' and '-', so that "dataDir",
// "data-dir" and "data_dir" compare equal.
func normalizeKey(s string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
}

// editDistance returns the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// runes each cost 1.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	d := make([][]int, len(s)+1)
	for i := range d {
		d[i] = make([]int, len(t)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(s)][len(t)]
}

// typeProblem says why node n cannot be decoded into t and what t wants.
func typeProblem(t reflect.Type, n *yaml.Node) string {
	want := describeType(t)
	switch n.Kind {
	case yaml.MappingNode:
		return "is a mapping; want " + want
	case yaml.SequenceNode:
		return "is a list; want " + want
	}
	v := quotePrefix(n.Value, 40)
	switch {
	case t == nil:
		return v + " is not valid here"
	case t == timeDurationType:
		return v + " is not a duration (use e.g. 90s, 15m, 36h)"
	case t == dayDurationType:
		return v + " is not a duration (use e.g. 3d, 90d, 36h)"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return v + " is not a number"
	case reflect.Bool:
		return v + " is not true/false"
	}
	return v + " is a single value; want " + want
}

// describeType says in words what a value of type t looks like in YAML.
func describeType(t reflect.Type) string {
	switch {
	case t == nil:
		return "no value here"
	case t == timeDurationType:
		return "a duration (e.g. 90s, 15m, 36h)"
	case t == dayDurationType:
		return "a duration (e.g. 3d, 90d, 36h)"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a single value"
	case reflect.Slice, reflect.Array:
		return "a list (e.g. [a, b] or one \"- item\" line each)"
	case reflect.Struct:
		return "a mapping with the keys " + strings.Join(yamlKeys(t), ", ")
	case reflect.Map:
		return "a mapping of names to values"
	}
	return "a " + t.String()
}

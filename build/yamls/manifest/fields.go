// Package manifest generates the install manifest build/yamls/switchyard.yaml and the configuration reference of
// docs/install.md from their sources: base/agent-rbac.yaml, the DaemonSet template beside this file, and the
// agent's configuration (agent/config: field names, YAML keys, doc comments and defaults; the agent's flags from
// cmd/switchyard-agent). `go run ./build/yamls/gen` writes both; tests fail when the committed files drift.
package manifest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/switchyard-net/switchyard/agent/config"
)

// Field is one agent option.
type Field struct {
	Name    string // Go field name
	Key     string // YAML key (the json tag)
	Type    string // Go type
	Doc     string // the field's doc comment, one line; fields declared on one comment share it
	Default any    // config.Default()'s value
	Flag    string // the agent's command-line flag, empty if it has none
}

// Per-node options the ConfigMap leaves out: the DaemonSet gives the node name through $NODE_NAME (downward API),
// the agent uses its in-cluster ServiceAccount, and each node's pod CIDR comes from its Node object.
var perNode = map[string]string{
	"nodeName":   "$NODE_NAME, set from spec.nodeName",
	"kubeconfig": "unset: the in-cluster ServiceAccount",
	"podCIDR":    "unset: the Node's spec.podCIDR",
}

// Fields reads the agent's options from the source tree at root: every field of config.Config in order, with its
// doc comment (agent/config/config.go), default (config.Default()) and flag (cmd/switchyard-agent/main.go).
func Fields(root string) ([]Field, error) {
	docs, err := structDocs(filepath.Join(root, "agent", "config", "config.go"), "Config")
	if err != nil {
		return nil, err
	}
	flags, err := flagNames(filepath.Join(root, "cmd", "switchyard-agent", "main.go"))
	if err != nil {
		return nil, err
	}
	def := reflect.ValueOf(config.Default())
	typ := def.Type()
	var out []Field
	for i := range typ.NumField() {
		sf := typ.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if key == "" || key == "-" {
			return nil, fmt.Errorf("config.Config.%s has no json tag: every option needs a YAML key", sf.Name)
		}
		doc, ok := docs[sf.Name]
		if !ok || doc == "" {
			return nil, fmt.Errorf("config.Config.%s has no doc comment (agent/config/config.go): the reference needs its meaning", sf.Name)
		}
		out = append(out, Field{Name: sf.Name, Key: key, Type: sf.Type.String(), Doc: doc, Default: def.Field(i).Interface(),
			Flag: flags[sf.Name]})
	}
	return out, nil
}

// structDocs maps each field of the named struct in file to its doc comment as one line. A field without its own
// comment shares the comment of the field group it is declared in (`A, B string` under one comment) or, when it
// directly follows a commented field with no blank line, that field's comment (a comment that names several).
func structDocs(file, name string) (map[string]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var st *ast.StructType
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Name == name {
			st, _ = ts.Type.(*ast.StructType)
		}
		return st == nil
	})
	if st == nil {
		return nil, fmt.Errorf("%s: no struct %s", file, name)
	}
	out := map[string]string{}
	prevDoc, prevEnd := "", 0
	for _, fld := range st.Fields.List {
		doc := oneLine(fld.Doc.Text())
		line := fset.Position(fld.Pos()).Line
		if doc == "" && line == prevEnd+1 {
			doc = prevDoc
		}
		for _, n := range fld.Names {
			out[n.Name] = doc
		}
		prevDoc, prevEnd = doc, fset.Position(fld.End()).Line
	}
	return out, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// flagNames maps config fields to the agent's flags, from calls like f.StringVar(&flagCfg.Bridge, "bridge", ...).
func flagNames(file string) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !strings.HasSuffix(sel.Sel.Name, "Var") {
			return true
		}
		ref, ok := call.Args[0].(*ast.UnaryExpr)
		if !ok || ref.Op != token.AND {
			return true
		}
		field, ok := ref.X.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if base, ok := field.X.(*ast.Ident); !ok || base.Name != "flagCfg" {
			return true
		}
		if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if name, err := strconv.Unquote(lit.Value); err == nil {
				out[field.Sel.Name] = "--" + name
			}
		}
		return true
	})
	return out, nil
}

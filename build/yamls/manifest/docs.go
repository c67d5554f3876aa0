package manifest

import (
	"bytes"
	"fmt"
	"strings"
)

// Markers around the generated configuration reference in docs/install.md.
const (
	BeginReference = "<!-- BEGIN GENERATED CONFIG REFERENCE (go run ./build/yamls/gen; edit agent/config instead) -->"
	EndReference   = "<!-- END GENERATED CONFIG REFERENCE -->"
)

// ConfigReference is the Markdown table of every agent option: YAML key, flag, default and meaning.
func ConfigReference(fields []Field) string {
	var b strings.Builder
	b.WriteString("| key | flag | default | meaning |\n|---|---|---|---|\n")
	for _, f := range fields {
		def := fmt.Sprintf("`%v`", f.Default)
		if s, ok := f.Default.(string); ok && s == "" {
			def = "empty"
		}
		if note, ok := perNode[f.Key]; ok {
			def += "; in the DaemonSet " + note
		}
		flag := "—"
		if f.Flag != "" {
			flag = "`" + f.Flag + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Key, flag, cell(def), cell(f.Doc))
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// UpdateDoc replaces what is between the reference markers of doc with ref.
func UpdateDoc(doc []byte, ref string) ([]byte, error) {
	i := bytes.Index(doc, []byte(BeginReference))
	j := bytes.Index(doc, []byte(EndReference))
	if i < 0 || j < i {
		return nil, fmt.Errorf("the document has no %q ... %q section", BeginReference, EndReference)
	}
	var b bytes.Buffer
	b.Write(doc[:i+len(BeginReference)])
	b.WriteString("\n" + ref)
	b.Write(doc[j:])
	return b.Bytes(), nil
}

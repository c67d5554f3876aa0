// Command gen writes the install manifest build/yamls/switchyard.yaml and the configuration reference of
// docs/install.md from their sources (see package manifest). Run from anywhere in the repository:
//
//	go run ./build/yamls/gen                     # both files, the default image
//	go run ./build/yamls/gen -image REF -o FILE  # a manifest for another image (docs untouched)
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/switchyard-net/switchyard/build/yamls/manifest"
)

func main() {
	image := flag.String("image", manifest.DefaultImage, "the image the DaemonSet runs")
	out := flag.String("o", "", "where to write the manifest (default build/yamls/switchyard.yaml; - for stdout)")
	flag.Parse()
	if err := run(*image, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(image, out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	m, err := manifest.Render(manifest.Options{Root: root, Image: image})
	if err != nil {
		return err
	}
	switch out {
	case "-":
		_, err := os.Stdout.Write(m)
		return err
	case "":
		out = filepath.Join(root, "build", "yamls", "switchyard.yaml")
	}
	if err := os.WriteFile(out, m, 0o644); err != nil {
		return err
	}
	if image != manifest.DefaultImage {
		return nil // a custom manifest: the committed docs stay as they are
	}
	fields, err := manifest.Fields(root)
	if err != nil {
		return err
	}
	doc := filepath.Join(root, "docs", "install.md")
	b, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	b, err = manifest.UpdateDoc(b, manifest.ConfigReference(fields))
	if err != nil {
		return fmt.Errorf("%s: %w", doc, err)
	}
	return os.WriteFile(doc, b, 0o644)
}

// moduleRoot is the nearest directory upwards from the working directory holding go.mod.
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		d = parent
	}
}

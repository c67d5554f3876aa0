package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/spf13/pflag"

	"github.com/switchyard-net/switchyard/agent/config"
)

// Every option of config.Config has a flag, and a flag the user sets overrides exactly its own field of the file's
// configuration while the others keep the file's values.
func TestEveryOptionHasAFlagThatOverridesTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(file, []byte("bridge: br-file\nlogLevel: debug\nmtu: 1400\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"string": "x-flag", "int": "1234", "bool": "true"}
	flagged := map[string]bool{}
	cmd, bound := command()
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Name == "config" {
			return
		}
		cmd, bound := command() // a fresh command per flag: only this one is "changed"
		if err := cmd.Flags().Set(fl.Name, values[fl.Value.Type()]); err != nil {
			t.Fatalf("--%s: %v", fl.Name, err)
		}
		cfg := fromFile
		if err := overrideFromFlags(cmd, &cfg, bound); err != nil {
			t.Fatalf("--%s: %v", fl.Name, err)
		}
		changed := changedFields(fromFile, cfg)
		if len(changed) != 1 {
			t.Errorf("--%s changed fields %v, want exactly one", fl.Name, changed)
			return
		}
		flagged[changed[0]] = true
	})
	typ := reflect.TypeOf(config.Config{})
	for i := range typ.NumField() {
		if !flagged[typ.Field(i).Name] {
			t.Errorf("config.Config.%s has no flag in cmd/switchyard-agent (add one next to the others)", typ.Field(i).Name)
		}
	}
	// Unset flags keep the file's values.
	cfg := fromFile
	if err := overrideFromFlags(cmd, &cfg, bound); err != nil || !reflect.DeepEqual(cfg, fromFile) {
		t.Errorf("no flags set: %v, configuration changed to %+v", err, cfg)
	}
}

func changedFields(a, b config.Config) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return out
}

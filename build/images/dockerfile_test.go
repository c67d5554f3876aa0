package images

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the build context of the Dockerfile.
const repoRoot = "../.."

func parse(t *testing.T) *Dockerfile {
	t.Helper()
	d, err := ParseDockerfile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The stages are consistent: every FROM is named and its ${ARG}s are declared before the first FROM, every
// COPY --from names an earlier stage, the builder's Go matches go.mod, the runtime is Debian bookworm-slim, and
// RUN --mount has the dockerfile syntax that supports it.
func TestDockerfileStages(t *testing.T) {
	d := parse(t)
	if d.Directives["syntax"] != "docker/dockerfile:1" {
		t.Errorf("# syntax=docker/dockerfile:1 missing (RUN --mount needs it): %v", d.Directives)
	}
	seen := map[string]bool{}
	argRef := regexp.MustCompile(`\$\{(\w+)\}`)
	for _, s := range d.Stages {
		if s.Name == "" || seen[s.Name] {
			t.Errorf("stage FROM %s: want a unique name (AS ...)", s.Base)
		}
		for _, m := range argRef.FindAllStringSubmatch(s.Base, -1) {
			if _, ok := d.GlobalArgs[m[1]]; !ok {
				t.Errorf("FROM %s uses ${%s}, not declared by an ARG before the first FROM", s.Base, m[1])
			}
		}
		for _, c := range s.Copies() {
			if c.From != "" && !seen[c.From] {
				t.Errorf("stage %s copies from %q, not an earlier stage", s.Name, c.From)
			}
		}
		seen[s.Name] = true
	}
	if len(d.Stages) != 2 || d.Stages[0].Name != "builder" || d.Stages[1].Name != "runtime" {
		t.Fatalf("want the stages builder and runtime, got %d", len(d.Stages))
	}
	if d.Stages[0].Base != "golang:${GO_VERSION}-${DEBIAN_RELEASE}" || d.Stages[1].Base != "debian:${DEBIAN_RELEASE}-slim" {
		t.Errorf("bases %q, %q", d.Stages[0].Base, d.Stages[1].Base)
	}
	if d.GlobalArgs["DEBIAN_RELEASE"] != "bookworm" {
		t.Errorf("DEBIAN_RELEASE=%q, want bookworm", d.GlobalArgs["DEBIAN_RELEASE"])
	}
	if want := goModVersion(t); d.GlobalArgs["GO_VERSION"] != want {
		t.Errorf("GO_VERSION=%q, go.mod says go %s", d.GlobalArgs["GO_VERSION"], want)
	}
}

// goModVersion is go.mod's go directive as major.minor.
func goModVersion(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go "); ok {
			parts := strings.Split(strings.TrimSpace(v), ".")
			return parts[0] + "." + parts[1]
		}
	}
	t.Fatal("go.mod has no go directive")
	return ""
}

// Everything the Dockerfile copies from the build context exists and survives Dockerfile.dockerignore, and every
// node script is in the image.
func TestDockerfileContext(t *testing.T) {
	d := parse(t)
	ignore := dockerignore(t)
	for _, s := range d.Stages {
		for _, c := range s.Copies() {
			if c.From != "" {
				continue
			}
			for _, src := range c.Srcs {
				if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
					t.Errorf("stage %s: COPY %s: %v", s.Name, src, err)
				}
				if src != "." && ignored(ignore, src) {
					t.Errorf("stage %s: COPY %s is excluded by Dockerfile.dockerignore", s.Name, src)
				}
			}
		}
	}
	files := d.InstalledFiles("/usr/local/bin")
	scripts, _ := filepath.Glob("scripts/*.sh")
	for _, s := range scripts {
		if files["/usr/local/bin/"+filepath.Base(s)] != "context:build/images/"+s {
			t.Errorf("%s is not installed in /usr/local/bin", s)
		}
	}
	// Sources the builder compiles must be in the context too.
	for _, p := range []string{"go.mod", "go.sum", "cmd/switchyard-agent/main.go", "cmd/switchyard-cni/main.go"} {
		if ignored(ignore, p) {
			t.Errorf("%s is excluded by Dockerfile.dockerignore", p)
		}
	}
}

// The builder compiles the agent and the plugin (yardctl only when its source exists), and the runtime
// gets them with the packages the node needs.
func TestDockerfileBinariesAndPackages(t *testing.T) {
	d := parse(t)
	files := d.InstalledFiles("/usr/local/bin")
	for bin, pkg := range map[string]string{"switchyard-agent": "./cmd/switchyard-agent", "switchyard-cni": "./cmd/switchyard-cni",
		"yardctl": "./cmd/yardctl"} {
		if files["/usr/local/bin/"+bin] != "builder:"+pkg {
			t.Errorf("/usr/local/bin/%s: %q, want built from %s", bin, files["/usr/local/bin/"+bin], pkg)
		}
		if m, _ := filepath.Glob(filepath.Join(repoRoot, pkg, "*.go")); len(m) == 0 && bin != "yardctl" {
			t.Errorf("%s has no Go files", pkg)
		}
	}
	run := strings.Join(d.Stage("builder").Run(), "\n")
	if !strings.Contains(run, "if ls cmd/yardctl/*.go") {
		t.Error("the yardctl build is not conditional on its source")
	}
	if !strings.Contains(run, "CGO_ENABLED=0") {
		t.Error("binaries are not static (CGO_ENABLED=0)")
	}
	apt := strings.Join(d.Stage("runtime").Run(), "\n")
	for _, p := range []string{"openvswitch-switch", "iproute2", "nftables", "ethtool", "kmod", "--no-install-recommends", "rm -rf /var/lib/apt/lists"} {
		if !strings.Contains(apt, p) {
			t.Errorf("the runtime stage does not install/do %s", p)
		}
	}
}

func dockerignore(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// ignored says whether a context path matches a dockerignore pattern: a path prefix, or **/<glob> on any base name.
func ignored(patterns []string, p string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool {
		if g, ok := strings.CutPrefix(pat, "**/"); ok {
			for _, part := range strings.Split(p, "/") {
				if m, _ := filepath.Match(g, part); m {
					return true
				}
			}
			return false
		}
		return p == pat || strings.HasPrefix(p, pat+"/")
	})
}

// The parser itself: continuation lines, comments inside a RUN, and go build outputs.
func TestParseDockerfile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "Dockerfile")
	text := "# syntax=docker/dockerfile:1\n# a comment\nARG X=1\nFROM a:${X} AS b\nRUN go build -o /o/ ./cmd/x \\\n  # inside\n  ./cmd/y; \\\n go build -ldflags \"-s -w\" -o /o/z ./p\nFROM c AS r\nCOPY --from=b /o/ /usr/local/bin/\nCOPY s/k.sh /usr/local/bin/\n"
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := ParseDockerfile(f)
	if err != nil {
		t.Fatal(err)
	}
	got := d.InstalledFiles("/usr/local/bin")
	want := map[string]string{"/usr/local/bin/x": "b:./cmd/x", "/usr/local/bin/y": "b:./cmd/y", "/usr/local/bin/z": "b:./p",
		"/usr/local/bin/k.sh": "context:s/k.sh"}
	if len(got) != len(want) {
		t.Fatalf("installed %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if _, err := ParseDockerfile(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file parsed")
	}
	if err := os.WriteFile(f, []byte("RUN x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseDockerfile(f); err == nil {
		t.Error("RUN before FROM accepted")
	}
}

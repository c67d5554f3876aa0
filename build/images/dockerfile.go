// Package images reads build/images/Dockerfile well enough to lint it without a Docker engine: its stages, what
// each COPY takes from the build context or an earlier stage, what the builder compiles and what ends up in the
// runtime image's /usr/local/bin (the commands the install manifest runs).
package images

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
)

// Instruction is one Dockerfile instruction, continuation lines joined and comments dropped.
type Instruction struct {
	Line    int    // where it starts
	Keyword string // upper case: FROM, RUN, COPY, ...
	Args    string // the rest, as written
}

// Stage is a FROM and the instructions after it.
type Stage struct {
	Name, Base   string
	Instructions []Instruction
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Directives map[string]string // parser directives (# syntax=...)
	GlobalArgs map[string]string // ARGs before the first FROM, with their defaults
	Stages     []*Stage
}

// Copy is a COPY instruction's parts.
type Copy struct {
	From string   // the stage of --from, empty for the build context
	Srcs []string // sources
	Dest string
}

// ParseDockerfile reads a Dockerfile.
func ParseDockerfile(file string) (*Dockerfile, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &Dockerfile{Directives: map[string]string{}, GlobalArgs: map[string]string{}}
	directive := regexp.MustCompile(`^#\s*([a-z]+)=(\S+)\s*$`)
	sc := bufio.NewScanner(f)
	var cur strings.Builder
	start, n, header := 0, 0, true
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if header {
			if m := directive.FindStringSubmatch(trimmed); m != nil {
				d.Directives[m[1]] = m[2]
				continue
			}
			header = false
		}
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		if err := d.add(start, cur.String()); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, start, err)
		}
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("%s:%d: the last instruction ends with a line continuation", file, start)
	}
	return d, sc.Err()
}

func (d *Dockerfile) add(line int, text string) error {
	kw, args, _ := strings.Cut(text, " ")
	in := Instruction{Line: line, Keyword: strings.ToUpper(kw), Args: strings.TrimSpace(args)}
	switch {
	case in.Keyword == "FROM":
		f := strings.Fields(in.Args)
		s := &Stage{Base: f[0]}
		if len(f) == 3 && strings.EqualFold(f[1], "AS") {
			s.Name = f[2]
		} else if len(f) != 1 {
			return fmt.Errorf("FROM %q: want `FROM image [AS name]`", in.Args)
		}
		d.Stages = append(d.Stages, s)
	case len(d.Stages) == 0 && in.Keyword == "ARG":
		name, def, _ := strings.Cut(in.Args, "=")
		d.GlobalArgs[name] = def
	case len(d.Stages) == 0:
		return fmt.Errorf("%s before the first FROM", in.Keyword)
	default:
		s := d.Stages[len(d.Stages)-1]
		s.Instructions = append(s.Instructions, in)
	}
	return nil
}

// Stage returns the stage of that name, nil if there is none.
func (d *Dockerfile) Stage(name string) *Stage {
	for _, s := range d.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Copies are the stage's COPY instructions.
func (s *Stage) Copies() []Copy {
	var out []Copy
	for _, in := range s.Instructions {
		if in.Keyword != "COPY" {
			continue
		}
		var c Copy
		var words []string
		for _, w := range strings.Fields(in.Args) {
			switch {
			case strings.HasPrefix(w, "--from="):
				c.From = strings.TrimPrefix(w, "--from=")
			case strings.HasPrefix(w, "--"):
			default:
				words = append(words, w)
			}
		}
		if len(words) >= 2 {
			c.Srcs, c.Dest = words[:len(words)-1], words[len(words)-1]
		}
		out = append(out, c)
	}
	return out
}

// Run is the text of the stage's RUN instructions, one string each.
func (s *Stage) Run() []string {
	var out []string
	for _, in := range s.Instructions {
		if in.Keyword == "RUN" {
			out = append(out, in.Args)
		}
	}
	return out
}

var quoted = regexp.MustCompile(`"[^"]*"`)

// GoBuilds maps each output file of the stage's `go build -o` commands to the package it is built from.
// `-o dir/ pkgs...` gives one file per package, named after the package's last path element.
func (s *Stage) GoBuilds() map[string]string {
	out := map[string]string{}
	for _, run := range s.Run() {
		for _, cmd := range regexp.MustCompile(`;|&&|\bthen\b`).Split(quoted.ReplaceAllString(run, `""`), -1) {
			f := strings.Fields(cmd)
			if len(f) < 2 || f[0] != "go" || f[1] != "build" {
				continue
			}
			var o string
			var pkgs []string
			for i := 2; i < len(f); i++ {
				switch {
				case f[i] == "-o" && i+1 < len(f):
					o = f[i+1]
					i++
				case strings.HasPrefix(f[i], "./"):
					pkgs = append(pkgs, f[i])
				}
			}
			for _, p := range pkgs {
				if strings.HasSuffix(o, "/") {
					out[o+path.Base(p)] = p
				} else {
					out[o] = p
				}
			}
		}
	}
	return out
}

// InstalledFiles maps each file the runtime stage (the last one) has in dir (e.g. /usr/local/bin) to where it
// comes from: "context:<path>" for a file of the build context, "<stage>:<package>" for a binary a stage built.
func (d *Dockerfile) InstalledFiles(dir string) map[string]string {
	out := map[string]string{}
	if len(d.Stages) == 0 {
		return out
	}
	dir = strings.TrimSuffix(dir, "/") + "/"
	for _, c := range d.Stages[len(d.Stages)-1].Copies() {
		if c.Dest != dir && c.Dest+"/" != dir {
			continue
		}
		for _, src := range c.Srcs {
			if c.From == "" {
				out[dir+path.Base(src)] = "context:" + src
				continue
			}
			from := d.Stage(c.From)
			if from == nil {
				continue
			}
			for file, pkg := range from.GoBuilds() {
				if strings.HasSuffix(src, "/") && path.Dir(file)+"/" == src {
					out[dir+path.Base(file)] = c.From + ":" + pkg
				}
			}
		}
	}
	return out
}

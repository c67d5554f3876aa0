package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
)

// CNI commands that act on one attachment and so carry CNI_CONTAINERID and CNI_IFNAME.
const (
	CmdAdd   = "ADD"
	CmdDel   = "DEL"
	CmdCheck = "CHECK"
)

// maxIfNameLen is the longest Linux interface name (IFNAMSIZ less its NUL).
const maxIfNameLen = 15

// Kubernetes name rules for the pod identity in CNI_ARGS.
var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// CNI_ARGS keys the plugin reads; all other keys are ignored, as runtimes pass several.
const (
	argPodNamespace = "K8S_POD_NAMESPACE"
	argPodName      = "K8S_POD_NAME"
)

// Env is the runtime's validated environment for one ADD, DEL or CHECK.
type Env struct {
	ContainerID string // CNI_CONTAINERID
	Netns       string // CNI_NETNS; may be empty on DEL
	IfName      string // CNI_IFNAME
	// PodNamespace and PodName come from CNI_ARGS; both are empty outside Kubernetes.
	PodNamespace string
	PodName      string
}

func badEnv(format string, a ...any) error {
	return types.NewError(types.ErrInvalidEnvironmentVariables, fmt.Sprintf(format, a...), "")
}

// ParseEnv validates the CNI_* variables skel collected in args for command (CmdAdd, CmdDel or
// CmdCheck).
func ParseEnv(command string, args *skel.CmdArgs) (*Env, error) {
	switch command {
	case CmdAdd, CmdDel, CmdCheck:
	default:
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("ParseEnv called for %q, which has no attachment environment", command), "")
	}
	if err := validateContainerID(args.ContainerID); err != nil {
		return nil, err
	}
	if err := validateIfName(args.IfName); err != nil {
		return nil, err
	}
	if args.Netns == "" && command != CmdDel {
		return nil, badEnv("CNI_NETNS is required for %s", command)
	}
	if args.Netns != "" && !filepath.IsAbs(args.Netns) {
		return nil, badEnv("CNI_NETNS %q is not an absolute path", args.Netns)
	}
	namespace, name, err := parsePodArgs(args.Args)
	if err != nil {
		return nil, err
	}
	return &Env{
		ContainerID:  args.ContainerID,
		Netns:        args.Netns,
		IfName:       args.IfName,
		PodNamespace: namespace,
		PodName:      name,
	}, nil
}

func validateContainerID(id string) error {
	if id == "" {
		return badEnv("CNI_CONTAINERID is empty")
	}
	if !validName.MatchString(id) {
		return badEnv("CNI_CONTAINERID %q must start with a letter or digit and hold only letters, digits, '_', '.' and '-'", id)
	}
	return nil
}

func validateIfName(name string) error {
	switch {
	case name == "":
		return badEnv("CNI_IFNAME is empty")
	case len(name) > maxIfNameLen:
		return badEnv("CNI_IFNAME %q is longer than %d bytes", name, maxIfNameLen)
	case name == "." || name == "..":
		return badEnv("CNI_IFNAME %q is not a valid interface name", name)
	}
	for _, r := range name {
		if r == '/' || r == ':' || unicode.IsSpace(r) {
			return badEnv("CNI_IFNAME %q contains '/', ':' or whitespace", name)
		}
	}
	return nil
}

// parsePodArgs reads K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS ("K=V;K2=V2").
func parsePodArgs(cniArgs string) (namespace, name string, err error) {
	if cniArgs == "" {
		return "", "", nil
	}
	seen := map[string]bool{}
	for _, pair := range strings.Split(cniArgs, ";") {
		key, value, ok := strings.Cut(pair, "=")
		if !ok || key == "" || strings.Contains(value, "=") {
			return "", "", badEnv("CNI_ARGS pair %q is not KEY=VALUE", pair)
		}
		if seen[key] {
			return "", "", badEnv("CNI_ARGS sets %s twice", key)
		}
		seen[key] = true
		switch key {
		case argPodNamespace:
			namespace = value
		case argPodName:
			name = value
		}
	}
	switch {
	case namespace == "" && name == "":
		return "", "", nil
	case namespace == "":
		return "", "", badEnv("CNI_ARGS has %s but no %s", argPodName, argPodNamespace)
	case name == "":
		return "", "", badEnv("CNI_ARGS has %s but no %s", argPodNamespace, argPodName)
	case len(namespace) > 63 || !dns1123Label.MatchString(namespace):
		return "", "", badEnv("CNI_ARGS %s %q is not a valid namespace name (DNS-1123 label)", argPodNamespace, namespace)
	case len(name) > 253 || !dns1123Subdomain.MatchString(name):
		return "", "", badEnv("CNI_ARGS %s %q is not a valid pod name (DNS-1123 subdomain)", argPodName, name)
	}
	return namespace, name, nil
}

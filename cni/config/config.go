// Package config parses and validates what a container runtime hands the switchyard CNI plugin:
// the network configuration on stdin and the CNI_* environment. Every error is a *types.Error
// with the CNI spec's code and a message naming the offending field or variable.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/sirupsen/logrus"

	"github.com/switchyard-net/switchyard/cni/api/wire"
)

// PluginType is the "type" the network configuration must name.
const PluginType = "switchyard"

// SupportedVersions are the CNI spec versions the plugin accepts in "cniVersion".
var SupportedVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// MTU bounds for the "mtu" override: IPv4's minimum datagram size up to the largest Linux MTU
// a veth accepts.
const (
	MinMTU = 576
	MaxMTU = 65535
)

// maxSocketPath is the longest path a unix socket address can hold on Linux.
const maxSocketPath = 107

// DefaultLogLevel is the level used when "logLevel" is not set.
const DefaultLogLevel = "warn"

// validName is the CNI spec's rule for network names and container IDs.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// NetConf is the switchyard plugin's network configuration as written by the agent in its
// conflist and completed by the runtime (name, cniVersion, runtimeConfig, prevResult).
type NetConf struct {
	types.PluginConf

	// AgentSocket is the agent's local API socket; wire.DefaultSocket when not set.
	AgentSocket string `json:"agentSocket,omitempty"`
	// MTU, when not zero, overrides the pod MTU the agent would choose.
	MTU int `json:"mtu,omitempty"`
	// LogLevel is a logrus level name; DefaultLogLevel when not set.
	LogLevel string `json:"logLevel,omitempty"`
	// LogFile, when set, receives the plugin's log instead of stderr.
	LogFile string `json:"logFile,omitempty"`
	// RuntimeConfig holds the capability arguments the runtime passed (CNI conventions).
	RuntimeConfig map[string]json.RawMessage `json:"runtimeConfig,omitempty"`
}

// unsupportedCapabilities are runtimeConfig keys asking for something only the agent decides.
var unsupportedCapabilities = []struct{ key, why string }{
	{"ips", "pod addresses are allocated by the switchyard-agent"},
	{"mac", "pod MAC addresses are derived by the switchyard-agent"},
}

// Parse decodes and validates the network configuration in stdin, fills defaults and parses
// prevResult (if any) into PrevResult, converted to the CNI 1.1 result type.
func Parse(stdin []byte) (*NetConf, error) {
	if err := rejectNonObject(stdin); err != nil {
		return nil, err
	}
	conf := &NetConf{}
	if err := json.Unmarshal(stdin, conf); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, types.NewError(types.ErrInvalidNetworkConfig,
				fmt.Sprintf("network config field %q must be a JSON %s, not %s", typeErr.Field, jsonKind(typeErr), typeErr.Value), "")
		}
		return nil, types.NewError(types.ErrDecodingFailure, fmt.Sprintf("network config is not valid JSON: %v", err), "")
	}
	if err := conf.validate(); err != nil {
		return nil, err
	}
	if conf.AgentSocket == "" {
		conf.AgentSocket = wire.DefaultSocket
	}
	if conf.LogLevel == "" {
		conf.LogLevel = DefaultLogLevel
	}
	if err := conf.parsePrevResult(); err != nil {
		return nil, err
	}
	return conf, nil
}

// rejectNonObject catches configs that are valid JSON but not an object (null, arrays, strings),
// which json.Unmarshal into a struct would partly accept.
func rejectNonObject(stdin []byte) error {
	trimmed := bytes.TrimSpace(stdin)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return types.NewError(types.ErrDecodingFailure, "network config on stdin is not a JSON object", "")
	}
	return nil
}

// jsonKind names the JSON type a Go field of the failed unmarshal expects.
func jsonKind(e *json.UnmarshalTypeError) string {
	switch e.Type.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64, reflect.Float64:
		return "number"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice:
		return "array"
	case reflect.Bool:
		return "boolean"
	default:
		return e.Type.Kind().String()
	}
}

func invalid(format string, a ...any) error {
	return types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf(format, a...), "")
}

func (c *NetConf) validate() error {
	if c.CNIVersion == "" {
		return types.NewError(types.ErrIncompatibleCNIVersion, "network config field \"cniVersion\" is missing",
			"supported: "+strings.Join(SupportedVersions, ", "))
	}
	if !slices.Contains(SupportedVersions, c.CNIVersion) {
		return types.NewError(types.ErrIncompatibleCNIVersion, fmt.Sprintf("cniVersion %q is not supported", c.CNIVersion),
			"supported: "+strings.Join(SupportedVersions, ", "))
	}
	if c.Name == "" {
		return invalid("network config field \"name\" is missing")
	}
	if !validName.MatchString(c.Name) {
		return invalid("network name %q must start with a letter or digit and hold only letters, digits, '_', '.' and '-'", c.Name)
	}
	if c.Type != PluginType {
		return invalid("network config field \"type\" is %q, want %q", c.Type, PluginType)
	}
	if c.AgentSocket != "" {
		if !filepath.IsAbs(c.AgentSocket) {
			return invalid("agentSocket %q is not an absolute path", c.AgentSocket)
		}
		if len(c.AgentSocket) > maxSocketPath {
			return invalid("agentSocket %q is longer than the %d bytes a unix socket path can hold", c.AgentSocket, maxSocketPath)
		}
	}
	if c.MTU != 0 && (c.MTU < MinMTU || c.MTU > MaxMTU) {
		return invalid("mtu %d is outside %d..%d", c.MTU, MinMTU, MaxMTU)
	}
	if c.LogLevel != "" {
		if _, err := logrus.ParseLevel(c.LogLevel); err != nil {
			return invalid("logLevel %q is not one of panic, fatal, error, warn, info, debug, trace", c.LogLevel)
		}
	}
	if c.LogFile != "" && !filepath.IsAbs(c.LogFile) {
		return invalid("logFile %q is not an absolute path", c.LogFile)
	}
	if !c.IPAM.IsEmpty() {
		return types.NewError(types.ErrUnsupportedField,
			fmt.Sprintf("network config field \"ipam\" (type %q) is not supported: the switchyard-agent allocates pod addresses", c.IPAM.Type), "")
	}
	for _, u := range unsupportedCapabilities {
		if _, ok := c.RuntimeConfig[u.key]; ok {
			return types.NewError(types.ErrUnsupportedField, fmt.Sprintf("runtimeConfig.%s is not supported: %s", u.key, u.why), "")
		}
	}
	for i, a := range c.ValidAttachments {
		if a.ContainerID == "" || a.IfName == "" {
			return invalid("cni.dev/valid-attachments[%d] needs both containerID and ifname, got %+v", i, a)
		}
	}
	return nil
}

// parsePrevResult converts the raw prevResult to a CNI 1.1 result in PrevResult.
func (c *NetConf) parsePrevResult() error {
	if c.RawPrevResult == nil {
		return nil
	}
	if err := version.ParsePrevResult(&c.PluginConf); err != nil {
		return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("network config field \"prevResult\": %v", err), "")
	}
	current, err := types100.NewResultFromResult(c.PrevResult)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure,
			fmt.Sprintf("network config field \"prevResult\" cannot be converted to CNI %s: %v", types100.ImplementedSpecVersion, err), "")
	}
	c.PrevResult = current
	return nil
}

// CurrentPrevResult returns the prevResult as a CNI 1.1 result, or nil when there was none.
func (c *NetConf) CurrentPrevResult() *types100.Result {
	r, _ := c.PrevResult.(*types100.Result)
	return r
}

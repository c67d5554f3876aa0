// Package plugin implements the switchyard CNI commands. The plugin is a thin client: it
// validates what the runtime passed, forwards the call to the switchyard-agent over its local
// API and turns the answer into a CNI result or a CNI error.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/containernetworking/cni/pkg/ns"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	cniversion "github.com/containernetworking/cni/pkg/version"

	"github.com/switchyard-net/switchyard/cni/api/wire"
	"github.com/switchyard-net/switchyard/cni/config"
)

// VersionInfo lists the CNI spec versions the plugin supports.
func VersionInfo() cniversion.PluginInfo {
	return cniversion.PluginSupports(config.SupportedVersions...)
}

// About is the text skel prints when the plugin is run without CNI_COMMAND.
func About(version string) string {
	return fmt.Sprintf("Switchyard CNI plugin %s: attaches pods to Open vSwitch through the switchyard-agent", version)
}

// Plugin runs CNI commands against the switchyard-agent.
type Plugin struct {
	// Stdout receives the CNI result of ADD.
	Stdout io.Writer
	// Stderr receives the log when the network config names no logFile.
	Stderr io.Writer
	// Timeouts bound the calls to the agent; zero fields take wire.DefaultTimeouts.
	Timeouts wire.Timeouts
}

// New returns a Plugin writing to the process's stdout and stderr with default timeouts.
func New() *Plugin {
	return &Plugin{Stdout: os.Stdout, Stderr: os.Stderr}
}

// Funcs returns the plugin's commands for skel.PluginMainFuncs.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check, GC: p.GC, Status: p.Status}
}

// Add attaches the pod: the agent allocates its address and creates its veth, OVS port and
// flows; the plugin prints the resulting interfaces, address and default route.
func (p *Plugin) Add(args *skel.CmdArgs) error {
	conf, env, err := parseAttachment(config.CmdAdd, args)
	if err != nil {
		return err
	}
	if err := rejectPluginNetns(env.Netns); err != nil {
		return err
	}
	log, closeLog := p.logger(conf, config.CmdAdd, env)
	defer closeLog()

	att, err := p.client(conf).add(context.Background(), request(conf, env))
	if err != nil {
		log.WithError(err).Error("agent refused ADD")
		return err
	}
	result, err := newResult(att, env)
	if err != nil {
		log.WithError(err).Error("agent answered ADD with an unusable attachment")
		return err
	}
	printed, err := result.GetAsVersion(conf.CNIVersion)
	if err != nil {
		return types.NewError(types.ErrIncompatibleCNIVersion, fmt.Sprintf("converting the result to cniVersion %s: %v", conf.CNIVersion, err), "")
	}
	log.WithField("ip", att.IPCIDR).WithField("hostIf", att.HostIfName).WithField("ofport", att.OFPort).Info("attached")
	return printed.PrintTo(p.Stdout)
}

// Del detaches the pod. It is idempotent: an attachment the agent does not know, or a network
// namespace that is already gone, is not an error.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	conf, env, err := parseAttachment(config.CmdDel, args)
	if err != nil {
		return err
	}
	log, closeLog := p.logger(conf, config.CmdDel, env)
	defer closeLog()

	req := request(conf, env)
	if req.Netns != "" && !pathExists(req.Netns) {
		log.WithField("netns", req.Netns).Info("network namespace already gone; asking the agent to clean up without it")
		req.Netns = ""
	}
	err = p.client(conf).del(context.Background(), req)
	var cniErr *types.Error
	if errors.As(err, &cniErr) && cniErr.Code == types.ErrUnknownContainer {
		log.Info("agent has no such attachment; nothing to delete")
		return nil
	}
	if err != nil {
		log.WithError(err).Error("agent refused DEL")
		return err
	}
	log.Info("detached")
	return nil
}

// Check asks the agent to verify the attachment and compares the agent's record with the
// prevResult the runtime holds.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, env, err := parseAttachment(config.CmdCheck, args)
	if err != nil {
		return err
	}
	prev := conf.CurrentPrevResult()
	if prev == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "CHECK needs the network config field \"prevResult\"", "")
	}
	log, closeLog := p.logger(conf, config.CmdCheck, env)
	defer closeLog()

	att, err := p.client(conf).check(context.Background(), request(conf, env))
	if err != nil {
		log.WithError(err).Error("agent failed CHECK")
		return err
	}
	if err := compareWithPrevResult(prev, att, env); err != nil {
		log.WithError(err).Error("attachment differs from prevResult")
		return err
	}
	return nil
}

// GC sends the runtime's still-valid attachments (cni.dev/valid-attachments) to the agent,
// which removes every other attachment of this network.
func (p *Plugin) GC(args *skel.CmdArgs) error {
	conf, err := config.Parse(args.StdinData)
	if err != nil {
		return err
	}
	if conf.ValidAttachments == nil {
		return types.NewError(types.ErrInvalidNetworkConfig,
			"GC needs the network config field \"cni.dev/valid-attachments\" (an empty list would remove every attachment)", "")
	}
	log, closeLog := p.logger(conf, "GC", nil)
	defer closeLog()

	req := wire.GCRequest{Network: conf.Name, Valid: make([]wire.AttachmentKey, 0, len(conf.ValidAttachments))}
	for _, a := range conf.ValidAttachments {
		req.Valid = append(req.Valid, wire.AttachmentKey{ContainerID: a.ContainerID, IfName: a.IfName})
	}
	resp, err := p.client(conf).gc(context.Background(), req)
	if err != nil {
		log.WithError(err).Error("agent failed GC")
		return err
	}
	for _, r := range resp.Removed {
		log.WithField("containerID", r.ContainerID).WithField("ifName", r.IfName).Info("removed stale attachment")
	}
	return nil
}

// Status reports whether the agent is ready for ADD. An agent that is not ready or cannot be
// reached gives types.ErrPluginNotAvailable.
func (p *Plugin) Status(args *skel.CmdArgs) error {
	conf, err := config.Parse(args.StdinData)
	if err != nil {
		return err
	}
	st, err := p.client(conf).status(context.Background())
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, "switchyard-agent status unknown: "+err.Error(), "")
	}
	if !st.Ready {
		return types.NewError(types.ErrPluginNotAvailable,
			fmt.Sprintf("switchyard-agent on node %q is not ready: %s", st.Node, st.Reason), "")
	}
	return nil
}

func (p *Plugin) client(conf *config.NetConf) *agentClient {
	return newAgentClient(conf.AgentSocket, p.Timeouts)
}

// parseAttachment validates the network config first, then the environment.
func parseAttachment(command string, args *skel.CmdArgs) (*config.NetConf, *config.Env, error) {
	conf, err := config.Parse(args.StdinData)
	if err != nil {
		return nil, nil, err
	}
	env, err := config.ParseEnv(command, args)
	if err != nil {
		return nil, nil, err
	}
	return conf, env, nil
}

func request(conf *config.NetConf, env *config.Env) wire.CNIRequest {
	return wire.CNIRequest{
		Network:      conf.Name,
		ContainerID:  env.ContainerID,
		Netns:        env.Netns,
		IfName:       env.IfName,
		PodNamespace: env.PodNamespace,
		PodName:      env.PodName,
		MTU:          conf.MTU,
	}
}

// rejectPluginNetns refuses to attach the plugin's own network namespace (the host's). skel
// checks this too, but only after ADD has run; checking first keeps the agent from allocating.
func rejectPluginNetns(netns string) error {
	same, err := ns.CheckNetNS(netns)
	if err != nil {
		return err
	}
	if same {
		return types.NewError(types.ErrInvalidNetNS, fmt.Sprintf("CNI_NETNS %q is the plugin's own network namespace", netns), "")
	}
	return nil
}

func pathExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

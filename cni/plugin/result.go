package plugin

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"github.com/switchyard-net/switchyard/cni/api/wire"
	"github.com/switchyard-net/switchyard/cni/config"
)

// Indexes of the interfaces in the result newResult builds.
const (
	hostIfIndex = 0
	podIfIndex  = 1
)

// parsedAttachment is an wire.Attachment with its addresses parsed and checked.
type parsedAttachment struct {
	hostMAC, podMAC net.HardwareAddr
	address         net.IPNet // pod IP with the subnet's mask
	gateway         net.IP
}

func badAttachment(field, value, why string) error {
	return types.NewError(types.ErrInternal,
		fmt.Sprintf("switchyard-agent returned an attachment with invalid %s %q: %s", field, value, why), "")
}

// parseAgentAttachment checks that the agent's attachment is complete and consistent with the
// interface name the runtime asked for.
func parseAgentAttachment(att *wire.Attachment, ifName string) (*parsedAttachment, error) {
	if att.HostIfName == "" {
		return nil, badAttachment("hostIfName", att.HostIfName, "empty")
	}
	if att.PodIfName != ifName {
		return nil, badAttachment("podIfName", att.PodIfName, "CNI_IFNAME is "+ifName)
	}
	var p parsedAttachment
	var err error
	if p.hostMAC, err = net.ParseMAC(att.HostMAC); err != nil {
		return nil, badAttachment("hostMAC", att.HostMAC, err.Error())
	}
	if p.podMAC, err = net.ParseMAC(att.PodMAC); err != nil {
		return nil, badAttachment("podMAC", att.PodMAC, err.Error())
	}
	ip, subnet, err := net.ParseCIDR(att.IPCIDR)
	if err != nil {
		return nil, badAttachment("ipCIDR", att.IPCIDR, err.Error())
	}
	p.address = net.IPNet{IP: ip, Mask: subnet.Mask}
	if p.gateway = net.ParseIP(att.Gateway); p.gateway == nil {
		return nil, badAttachment("gateway", att.Gateway, "not an IP address")
	}
	if !subnet.Contains(p.gateway) || p.gateway.Equal(ip) {
		return nil, badAttachment("gateway", att.Gateway, "not another address in "+subnet.String())
	}
	if att.MTU < 0 {
		return nil, badAttachment("mtu", fmt.Sprint(att.MTU), "negative")
	}
	return &p, nil
}

// newResult builds the CNI 1.1 result of ADD: the host-side veth, the pod interface in its
// sandbox, the pod address with its gateway, and a default route via the gateway.
func newResult(att *wire.Attachment, env *config.Env) (*types100.Result, error) {
	p, err := parseAgentAttachment(att, env.IfName)
	if err != nil {
		return nil, err
	}
	podIf := podIfIndex
	return &types100.Result{
		CNIVersion: types100.ImplementedSpecVersion,
		Interfaces: []*types100.Interface{
			hostIfIndex: {Name: att.HostIfName, Mac: p.hostMAC.String(), Mtu: att.MTU},
			podIfIndex:  {Name: att.PodIfName, Mac: p.podMAC.String(), Mtu: att.MTU, Sandbox: env.Netns},
		},
		IPs:    []*types100.IPConfig{{Interface: &podIf, Address: p.address, Gateway: p.gateway}},
		Routes: []*types.Route{{Dst: defaultRoute(p.gateway), GW: p.gateway}},
	}, nil
}

func defaultRoute(gateway net.IP) net.IPNet {
	if gateway.To4() != nil {
		return net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	}
	return net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
}

func mismatch(field, prev, agent string) error {
	return types.NewError(types.ErrInternal,
		fmt.Sprintf("CHECK: %s differs: prevResult has %s, switchyard-agent has %s", field, prev, agent), "")
}

// compareWithPrevResult checks that the attachment the agent reports is the one described by
// prevResult: interface names, MACs, sandbox, and the pod's address and gateway.
func compareWithPrevResult(prev *types100.Result, att *wire.Attachment, env *config.Env) error {
	p, err := parseAgentAttachment(att, env.IfName)
	if err != nil {
		return err
	}
	podIdx, hostIdx := -1, -1
	var hostNames []string
	for i, iface := range prev.Interfaces {
		switch {
		case iface.Sandbox != "" && iface.Name == env.IfName:
			podIdx = i
		case iface.Sandbox == "":
			hostNames = append(hostNames, iface.Name)
			if iface.Name == att.HostIfName {
				hostIdx = i
			}
		}
	}
	if podIdx < 0 {
		return types.NewError(types.ErrInternal, fmt.Sprintf("CHECK: prevResult has no interface %q in a sandbox", env.IfName), "")
	}
	podIf := prev.Interfaces[podIdx]
	if podIf.Sandbox != env.Netns {
		return mismatch("pod interface sandbox", podIf.Sandbox, "CNI_NETNS "+env.Netns)
	}
	if !sameMAC(podIf.Mac, p.podMAC) {
		return mismatch("pod interface MAC", podIf.Mac, p.podMAC.String())
	}
	if hostIdx < 0 {
		return mismatch("host interface name", "["+strings.Join(hostNames, ", ")+"]", att.HostIfName)
	}
	if hostIf := prev.Interfaces[hostIdx]; !sameMAC(hostIf.Mac, p.hostMAC) {
		return mismatch("host interface MAC", hostIf.Mac, p.hostMAC.String())
	}
	return compareIP(prev, podIdx, p)
}

// compareIP finds the pod interface's address in prev and compares it and its gateway.
func compareIP(prev *types100.Result, podIdx int, p *parsedAttachment) error {
	var prevAddrs []string
	for _, ip := range prev.IPs {
		if ip.Interface == nil || *ip.Interface != podIdx {
			continue
		}
		prevAddrs = append(prevAddrs, ip.Address.String())
		if !ip.Address.IP.Equal(p.address.IP) || !sameMask(ip.Address.Mask, p.address.Mask) {
			continue
		}
		if ip.Gateway != nil && !ip.Gateway.Equal(p.gateway) {
			return mismatch("pod gateway", ip.Gateway.String(), p.gateway.String())
		}
		return nil
	}
	if len(prevAddrs) == 0 {
		prevAddrs = []string{"none"}
	}
	return mismatch("pod IP", strings.Join(prevAddrs, ", "), p.address.String())
}

func sameMAC(text string, mac net.HardwareAddr) bool {
	parsed, err := net.ParseMAC(text)
	return err == nil && bytes.Equal(parsed, mac)
}

func sameMask(a, b net.IPMask) bool {
	aOnes, aBits := a.Size()
	bOnes, bBits := b.Size()
	return aOnes == bOnes && aBits == bBits
}

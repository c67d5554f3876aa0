// Package pods attaches and detaches pods on this node: IP from IPAM, the pod's veth, its OVS port with the pod's
// identity in external_ids, and its flows. The CNI server calls it; on start the agent rebuilds it from OVSDB.
package pods

import (
	"fmt"
	"net"
)

// External-ID keys written on a pod's OVS port. They are the agent's record of the pod: on restart the agent
// rebuilds its view of local pods from them.
const (
	ExtOwner       = "switchyard.io/owner" // always "switchyard" on ports the agent manages
	ExtKind        = "switchyard.io/kind"  // "pod"
	ExtNamespace   = "switchyard.io/pod-namespace"
	ExtName        = "switchyard.io/pod-name"
	ExtContainerID = "switchyard.io/container-id"
	ExtIfName      = "switchyard.io/ifname"
	ExtIP          = "switchyard.io/ip"
	ExtMAC         = "switchyard.io/mac"
	ExtNetns       = "switchyard.io/netns"
	ExtNetwork     = "switchyard.io/network"

	OwnerValue = "switchyard"
	KindPod    = "pod"
)

// Key identifies an attachment the way CNI does.
type Key struct {
	ContainerID string
	IfName      string
}

func (k Key) String() string { return k.ContainerID + "/" + k.IfName }

// Pod is one attached pod interface.
type Pod struct {
	Key
	Namespace  string
	Name       string
	Network    string
	Netns      string
	HostIfName string
	HostMAC    net.HardwareAddr // of the host-side veth
	IP         *net.IPNet       // address with the pod CIDR's prefix
	MAC        net.HardwareAddr
	OFPort     int32
}

// Ref is "namespace/name", or the container id for pods started without Kubernetes arguments.
func (p *Pod) Ref() string {
	if p.Namespace == "" && p.Name == "" {
		return p.ContainerID
	}
	return p.Namespace + "/" + p.Name
}

// ExternalIDs is what the pod's OVS port records about it.
func (p *Pod) ExternalIDs() map[string]string {
	return map[string]string{
		ExtOwner: OwnerValue, ExtKind: KindPod,
		ExtNamespace: p.Namespace, ExtName: p.Name, ExtNetwork: p.Network,
		ExtContainerID: p.ContainerID, ExtIfName: p.IfName, ExtNetns: p.Netns,
		ExtIP: p.IP.String(), ExtMAC: p.MAC.String(),
	}
}

// podFromPort rebuilds a Pod from its port's name, ofport and external_ids. It returns an error naming the
// missing or malformed key for a port that claims to be a Switchyard pod but is damaged.
func podFromPort(portName string, ofport int32, ext map[string]string) (*Pod, error) {
	if ext[ExtOwner] != OwnerValue || ext[ExtKind] != KindPod {
		return nil, nil
	}
	p := &Pod{
		Key:        Key{ContainerID: ext[ExtContainerID], IfName: ext[ExtIfName]},
		Namespace:  ext[ExtNamespace],
		Name:       ext[ExtName],
		Network:    ext[ExtNetwork],
		Netns:      ext[ExtNetns],
		HostIfName: portName,
		OFPort:     ofport,
	}
	if p.ContainerID == "" || p.IfName == "" {
		return nil, fmt.Errorf("port %s: external_ids lack %s or %s", portName, ExtContainerID, ExtIfName)
	}
	ip, ipnet, err := net.ParseCIDR(ext[ExtIP])
	if err != nil {
		return nil, fmt.Errorf("port %s: external_ids %s=%q: %v", portName, ExtIP, ext[ExtIP], err)
	}
	ipnet.IP = ip
	p.IP = ipnet
	if p.MAC, err = net.ParseMAC(ext[ExtMAC]); err != nil {
		return nil, fmt.Errorf("port %s: external_ids %s=%q: %v", portName, ExtMAC, ext[ExtMAC], err)
	}
	return p, nil
}

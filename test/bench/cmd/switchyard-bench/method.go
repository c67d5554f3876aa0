package main

// methodText is the fixed end of docs/benchmarks.md: how each figure is made and what it leaves out.
const methodText = "## Method\n\n" +
	"Run it with `make bench` (full: about 18 minutes) or `make bench BENCH_FLAGS=-quick` (every measurement once, small " +
	"sizes, about 2 minutes). It needs root, Open vSwitch, iperf3 (`make deps`) and, for the cross-node rows, the lab's " +
	"control plane binaries (`make controlplane`). `-only attach,datapath,crossnode,controlplane,netpol` picks sections; " +
	"`-reps N` sets the repetitions. Everything runs in network namespaces it creates (names `sybn...`, labs `sybn...`) " +
	"and is removed at the end; traffic flows only between those namespaces.\n\n" +
	"**Builds.** Switchyard's binaries are built from the work tree at the start of the run; the reference plugins " +
	"`bridge` and `host-local` from `github.com/containernetworking/plugins` v1.9.1, pinned by the separate module " +
	"`test/bench/refplugins` (its `tool` directives), so the main go.mod does not carry their dependencies. Each " +
	"side is built as it ships, both static (`CGO_ENABLED=0`): Switchyard as its image does (`-trimpath -ldflags " +
	"'-s -w'`, build/images/Dockerfile), the reference plugins as their release script does (`-ldflags " +
	"'-extldflags -static -X ...BuildVersion=v1.9.1'`). A dynamically linked plugin would pay the dynamic loader on " +
	"every call.\n\n" +
	"**Pod attach.** *Switchyard*: a node namespace with a private netdev OVS and the real `switchyard-agent` in " +
	"standalone mode (`--pod-cidr`), the plugin invoked through libcni with the conflist the agent wrote, as " +
	"test/integration and a container runtime do; the ADD answer comes after the pod's flows are installed. *bridge*: " +
	"the reference conflist (Linux bridge with the gateway address, no masquerade, host-local IPAM with its own data " +
	"directory) invoked the same way. The plugins are executed from a thread inside the node namespace, so the bridge " +
	"plugin's Linux bridge lives there. *floor*: Switchyard's own veth code (`cni/podnet.Setup`/`Teardown`: veth pair, " +
	"MAC, MTU, tx checksum off, IPv6 off, address, default route, node side NOARP, promiscuous and up) called in-process " +
	"with an in-memory address counter: no plugin process, no IPAM files, no switch. Pod namespaces are created before " +
	"the timed calls and removed after. The variants take turns going first (repetition r starts with the r-th), so " +
	"a machine whose speed drifts during the run favours none of them. p50/p99 are nearest-rank percentiles of the " +
	"per-pod call durations of one repetition. CPU " +
	"times per ADD come from /proc (10 ms ticks) at the start and the end of the ADD phase: the machine's busy time " +
	"(everything running then, the harness included, so other work on the machine inflates it: see the load average " +
	"above) and each Switchyard daemon's own, threads and waited-for children included. With OVS's userspace " +
	"datapath, ovs-vswitchd's single main thread handles the new port, the pod's flow bundle and every link change " +
	"in its namespace, one after the other, and its CPU time per ADD is the floor of Switchyard's sequential latency. " +
	"In Open vSwitch 3.1 every link change there (the host end created, its carrier up: two per pod, whatever the " +
	"order of the steps) is a full bridge reconfiguration (`if_notifier` has no filter), after which the status " +
	"refresh asks the kernel for the flags of every interface twice (`iface_refresh_netdev_status`: two RTM_GETLINK " +
	"per port), and the route table is dumped again (`route_table_reset`); with about 50 ports and 1.4 reconfigurations " +
	"per pod (coalesced when changes come together) that is ~100 netlink requests per pod (`-agent-logs` keeps vswitchd's coverage counters around each ADD phase), so an ADD costs more " +
	"the more pods the node already has (the table by pods already on the node). The two requests are " +
	"`netdev_get_flags` and `netdev_get_carrier`, which asks for the flags again; netdev-linux does not cache them. " +
	"Newer Open vSwitch releases only drop wireless-extension notifications before they reach the bridge " +
	"(`change->irrelevant`), so a veth's changes still reconfigure it. A DEL waits for the same thread twice (the pod's flow bundle, then the flush of its conntrack entries), " +
	"and the thread also removes each deleted pod's port. The userspace datapath reads a veth port through an " +
	"AF_PACKET socket, and closing that socket waits for an RCU grace period (`packet_release` calls " +
	"`synchronize_net`), several milliseconds in which the thread does nothing else; concurrent DELs queue behind " +
	"each other's closes. The DEL phase samples the thread's state from /proc (not the ADD phase: the " +
	"sampling would count in the machine's CPU time) to show this. The kernel datapath (`system`, the default on " +
	"real nodes) reads its ports without sockets.\n\n" +
	"**Datapath.** All same-machine paths exist at once and are measured in turn within each repetition. *veth*: two " +
	"namespaces joined by a veth pair with default offloads (the physical limit of this machine); *veth tx off*: the " +
	"same with tx checksum offload off, which the userspace datapath without userspace TSO forces on OVS pods (it " +
	"also disables TSO), as on these same-node paths and in the encap modes; " +
	"*OVS NORMAL*: a private OVS in a node namespace, one netdev bridge whose only flow is `actions=NORMAL`, two pods " +
	"attached with Switchyard's veth code at Switchyard's pod MTU (the cost of OVS itself); *Switchyard same node*: two " +
	"pods of a standalone Switchyard node through the full pipeline (spoof guard, conntrack, L3, ...). Cross-node rows " +
	"come from a 2-node lab (`test/lab/cluster`, as `switchyard-lab up --nodes 2`) per mode, pods pinned to each node " +
	"with the lab's built-in server, iperf3 and the connection-rate test run inside the pod namespaces. iperf3's rate is " +
	"the receiver's; the connection-rate client closes first and binds each connection to the next port of 1024-65000 " +
	"in turn, as netperf's TCP_CRR does, a run starting where the one before it in that namespace stopped, so no run " +
	"meets an earlier one's connections (a port's TIME_WAIT socket is reused, `tcp_tw_reuse=1`, only after the whole " +
	"range; left to connect(), the search past its own TIME_WAIT sockets, not the path, limits the rate after a few " +
	"runs). All OVS instances run the userspace (netdev) datapath: there is no OVS kernel module here, and one " +
	"ovs-vswitchd main thread forwards every packet, which is why OVS paths are far below the veth pair.\n\n" +
	crossBaselineMethod +
	"**Control plane.** One fresh `cp-worker` process per size and repetition: a private OVS with br-int as the agent " +
	"creates it (netdev, secure, OpenFlow 1.5, gateway at port 2), the node and Service pipeline staged as the agent " +
	"stages them, and the agent's own `agent/proxy` controller over `flows.NewStore(openflow.New(...))`, listing and " +
	"watching a real kube-apiserver (the lab's control plane, started afresh in its own namespace, speaking protobuf " +
	"as the agent does) that holds the Services and EndpointSlices. One departure from a real agent: the host nftables " +
	"rules are not applied (a no-op HostRules). *Agent-side RSS* is the worker's VmRSS after programming (after a GC); " +
	"the memory that creating the objects took is returned to the OS and the peak mark (VmHWM) reset before the agent " +
	"part starts, so both belong to the agent's code alone. CPU is user+system of " +
	"the worker and its `ovs-ofctl` children during the cold start. Flows and groups are counted on the bridge.\n\n" +
	"**NetworkPolicy.** One fresh `np-worker` process per size and repetition, on the same kind of private OVS with the " +
	"node pipeline staged: the agent's own `agent/networkpolicy` controller (informers on NetworkPolicies, Pods and " +
	"Namespaces, the `policy` model, the flow compiler) over the flows Store, fed by the fake clientset; the local pods' " +
	"OpenFlow ports come from a table instead of the CNI's attachments (the ports need not exist for the flows). A " +
	"single change is timed from the API call until `Controller.Progress` reports the event programmed, i.e. its bundle " +
	"applied by `ovs-ofctl`. Every size, 10,000 pods included, runs in every repetition (the whole series takes " +
	"about 3 minutes). Unlike the Service worker it is fed by " +
	"client-go's fake clientset, whose object tracker keeps a second copy of every object in the worker: its RSS is " +
	"an upper bound of the agent's.\n\n" +
	"**What is not measured yet.** A real API server under the NetworkPolicy series; UDP and latency percentiles on the datapath; " +
	"Service (ClusterIP) paths on the datapath. Other work running on the machine during a run shows in the load " +
	"average printed at the top, and in the min–max spread.\n"

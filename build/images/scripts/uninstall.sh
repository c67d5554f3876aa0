#!/usr/bin/env bash
# uninstall.sh: remove everything Switchyard put on this node (docs/install.md, "Uninstall").
#
# Run as root in the node's network namespace with the image's tools (Open vSwitch, iproute2, nftables), e.g.
# `kubectl debug node/<node> --profile=sysadmin --image=<switchyard image> -- env HOST_ROOT=/host uninstall.sh`.
# It is idempotent: a second run finds nothing and succeeds. In order:
#   1. Open vSwitch: if it is not running but its database is there (the DaemonSet was deleted), it is started
#      from that database for the duration of the script, so bridges are removed the way OVS removes them.
#   2. The physical bridge (netdev datapath): the node's addresses and routes move back from it to the interface
#      it took over, whose ARP is turned back on; then pod veths (sy + 12 hex digits), the integration bridge
#      (with the gateway and tunnel ports) and the physical bridge are deleted.
#   3. An OVS started by this script is stopped with `exit --cleanup` (the kernel datapath goes too); an OVS that
#      was already running (e.g. the DaemonSet's, when uninstalling before deleting it) is left running, empty.
#   4. The agent's host routes (proto 94) and its nftables tables (ip switchyard, ip switchyard-*); the CNI
#      conflist and plugin; the state, run and log directories (the OVS database lives in the state directory).
# Every path is prefixed with HOST_ROOT (default empty: the node's own /). Names and paths come from the agent's
# configuration file SWITCHYARD_AGENT_CONFIG when given (bridge, physicalBridge, gatewayName, cniConfDir,
# cniConfName, stateDir, apiSocket), else the defaults of the install manifest. Environment overrides:
#   OVS_RUNDIR OVS_DBDIR OVS_LOGDIR  as the DaemonSet's switchyard-ovs container (/var/run/openvswitch,
#                                    /var/lib/switchyard/openvswitch, /var/log/switchyard/openvswitch)
#   CNI_BIN_DIR (/opt/cni/bin)  SWITCHYARD_LOG_DIR (/var/log/switchyard)  NFT_TABLE (switchyard: that table and switchyard-*)
set -euo pipefail

log() { echo "uninstall: $*" >&2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${HOST_ROOT:-}

# config_value KEY: a top-level scalar of the agent's YAML file, empty if there is no file or key.
config_value() {
  [ -n "${SWITCHYARD_AGENT_CONFIG:-}" ] || return 0
  sed -n "s/^$1:[[:space:]]*[\"']\{0,1\}\([^\"'#[:space:]]*\).*/\1/p" "$SWITCHYARD_AGENT_CONFIG" | tail -n 1
}
bridge=$(config_value bridge); bridge=${bridge:-br-int}
phys=$(config_value physicalBridge); phys=${phys:-br-phy}
gateway=$(config_value gatewayName); gateway=${gateway:-switchyard-gw0}
conf_dir=$(config_value cniConfDir); conf_dir=$root${conf_dir:-/etc/cni/net.d}
conf_name=$(config_value cniConfName); conf_name=${conf_name:-10-switchyard.conflist}
state_dir=$(config_value stateDir); state_dir=$root${state_dir:-/var/lib/switchyard}
api_socket=$(config_value apiSocket); api_socket=$root${api_socket:-/var/run/switchyard/agent.sock}
cni_bin=${CNI_BIN_DIR:-$root/opt/cni/bin}
log_dir=${SWITCHYARD_LOG_DIR:-$root/var/log/switchyard}
table=${NFT_TABLE:-switchyard}
export OVS_RUNDIR=${OVS_RUNDIR:-$root/var/run/openvswitch}
export OVS_DBDIR=${OVS_DBDIR:-$root/var/lib/switchyard/openvswitch}
export OVS_LOGDIR=${OVS_LOGDIR:-$root/var/log/switchyard/openvswitch}
export OVS_SYSCONFDIR=${OVS_SYSCONFDIR:-$OVS_DBDIR}

vsctl() { ovs-vsctl --db="unix:$OVS_RUNDIR/db.sock" --timeout=30 "$@"; }
ovs_up() { [ -S "$OVS_RUNDIR/db.sock" ] && ovs-vsctl --db="unix:$OVS_RUNDIR/db.sock" --timeout=5 show >/dev/null 2>&1; }

# 1. Open vSwitch.
started=0 ovs_was_running=0
if ovs_up; then
  ovs_was_running=1
elif [ -s "$OVS_DBDIR/conf.db" ]; then
  log "starting Open vSwitch from $OVS_DBDIR/conf.db to remove its bridges"
  OVS_DATAPATH="" SWITCHYARD_AGENT_CONFIG="" bash "$here/start-ovs.sh" --detach
  started=1
fi

# restore_transport: give the physical bridge's addresses and routes back to the interface it took over.
restore_transport() {
  local nic="" p
  for p in $(vsctl list-ports "$phys"); do
    if [ "$(vsctl get Interface "$p" type)" = '""' ]; then nic=$p; fi
  done
  if [ -z "$nic" ] || ! ip link show "$nic" >/dev/null 2>&1; then
    log "$phys has no system interface port: nothing to move back"
    return 0
  fi
  log "moving the addresses and routes of $phys back to $nic"
  ip link set "$nic" arp on up
  local a
  while read -r a; do
    [ -n "$a" ] && ip addr replace "$a" dev "$nic"
  done < <(ip -o addr show dev "$phys" scope global | awk '{print $4}')
  local r
  while read -r r; do
    # Kernel routes of the addresses were recreated on $nic by `ip addr`; copy the others (default route first).
    [ -z "$r" ] && continue
    case "$r" in *"proto kernel"*) continue ;; esac
    # shellcheck disable=SC2086 # a route is a list of words
    ip route replace $r dev "$nic"
  done < <(ip route show dev "$phys" | sort -r)
}

# 2. Bridges and pod veths.
if ovs_up; then
  if vsctl br-exists "$phys"; then
    restore_transport
  fi
  for l in $(ip -o link show type veth | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E '^sy[0-9a-f]{12}$' || true); do
    log "deleting pod veth $l"
    ip link del "$l" 2>/dev/null || true
  done
  for b in "$bridge" "$phys"; do
    if vsctl br-exists "$b"; then
      log "deleting bridge $b"
      vsctl --if-exists del-br "$b"
    fi
  done
else
  log "Open vSwitch is not running and has no database in $OVS_DBDIR: removing leftover devices by name"
  for l in $(ip -o link show type veth | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E '^sy[0-9a-f]{12}$' || true); do
    ip link del "$l" 2>/dev/null || true
  done
  for l in "$gateway" "$bridge"; do
    ip link del "$l" 2>/dev/null && log "deleted $l"
  done
  if ip link show "$phys" >/dev/null 2>&1; then
    if [ -n "$(ip -o addr show dev "$phys" scope global)" ]; then
      log "NOT deleting $phys: it holds the node's addresses and the interface it took over is unknown without OVS"
    else
      ip link del "$phys" && log "deleted $phys"
    fi
  fi
fi

# 3. A temporary OVS goes away with its datapaths.
if [ "$started" = 1 ]; then
  log "stopping the temporary Open vSwitch"
  for d in ovs-vswitchd ovsdb-server; do
    args=(exit)
    [ "$d" = ovs-vswitchd ] && args=(exit --cleanup)
    ovs-appctl -t "$OVS_RUNDIR/$d.ctl" "${args[@]}" 2>/dev/null || true
  done
fi

# 4. Routes, nftables, files.
ip route flush proto 94 2>/dev/null || true
if command -v nft >/dev/null; then
  # The agent's tables: ip switchyard (SNAT), ip switchyard-services (Service host rules), and any later
  # ip switchyard-* table.
  for t in $(nft list tables ip 2>/dev/null | awk '{print $3}'); do
    case "$t" in
      "$table"|"$table"-*)
        log "deleting nftables table ip $t"
        nft delete table ip "$t" ;;
    esac
  done
else
  log "nft not found: nftables tables ip $table* not checked"
fi
for f in "$conf_dir/$conf_name" "$cni_bin/switchyard"; do
  if [ -e "$f" ]; then
    log "removing $f"
    rm -f "$f"
  fi
done
rm -f "$api_socket"
rmdir "$(dirname "$api_socket")" 2>/dev/null || true
# remove_dir DIR [KEEP]: rm -rf DIR but KEEP inside it; only paths that name switchyard, so a mistyped setting
# cannot remove a system directory.
remove_dir() {
  local d=$1 keep=${2:-}
  [ -e "$d" ] || return 0
  case "$d" in
    *switchyard*) ;;
    *) log "NOT removing $d: not a switchyard path"; return 0 ;;
  esac
  local rel=${keep#"$d"/}
  if [ -n "$keep" ] && [ -e "$keep" ] && [ "$rel" != "$keep" ]; then
    local top=$d/${rel%%/*}
    log "removing $d except $top (used by the running Open vSwitch)"
    find "$d" -mindepth 1 -maxdepth 1 ! -path "$top" -exec rm -rf {} +
    return 0
  fi
  log "removing $d"
  rm -rf "$d"
}
if [ "$ovs_was_running" = 1 ]; then
  # The running OVS keeps its database and logs; run the script again once it is stopped to remove them.
  remove_dir "$state_dir" "$OVS_DBDIR"
  remove_dir "$log_dir" "$OVS_LOGDIR"
else
  remove_dir "$state_dir"
  remove_dir "$log_dir"
  remove_dir "$OVS_DBDIR"
  remove_dir "$OVS_LOGDIR"
fi
log "done"

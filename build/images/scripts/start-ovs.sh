#!/usr/bin/env bash
# start-ovs.sh: start Open vSwitch (ovsdb-server + ovs-vswitchd) for a Switchyard node.
#
# Used by the switchyard-ovs container of the DaemonSet (foreground: it waits and stops OVS on SIGTERM) and by the lab
# for each of its nodes (--detach). Every path comes from the environment, so several instances can share one
# machine:
#   OVS_RUNDIR      sockets, pidfiles, bridges' .mgmt       (default /var/run/openvswitch)
#   OVS_DBDIR       conf.db                                 (default /etc/openvswitch)
#   OVS_LOGDIR      log files                               (default /var/log/openvswitch)
#   OVS_SYSCONFDIR  system-id etc.                          (default /etc)
#   OVS_SCHEMA      schema to create/upgrade conf.db with   (default /usr/share/openvswitch/vswitch.ovsschema)
#   OVS_SYSTEM_ID   external_ids:system-id                  (default: the hostname)
#   OVS_DATAPATH    system: load the openvswitch kernel module (SYS_MODULE and /lib/modules needed unless it is
#                   already loaded); netdev: the userspace datapath, no module (needs /dev/net/tun). Default: the
#                   datapathType of SWITCHYARD_AGENT_CONFIG (the agent's file; "system" if it has none), and when
#                   that is unset too (the lab), nothing is checked or loaded.
#   OVS_USERSPACE_TSO  true or false: other_config:userspace-tso-enable, which ovs-vswitchd reads when it starts.
#                   Default: true for the netdev datapath with trafficMode noEncap in SWITCHYARD_AGENT_CONFIG (pods
#                   then keep TSO and tx checksum offload), false otherwise: OVS 3.1's userspace tunnels drop TSO
#                   packets. The agent reads the key to set the pods' offloads (docs/modes.md).
#   OVS_LOG_MAX_BYTES  foreground only: a log file larger than this is rotated to .1 (default 104857600)
#
# Hitless restarts: if the database already has bridges (OVS is restarting on a node that has pods), ovs-vswitchd
# starts with other_config:flow-restore-wait=true, so it keeps the kernel datapath's flows and does not forward
# with an empty OpenFlow table; switchyard-agent clears the flag once it has replayed its flows.
set -euo pipefail

detach=0
case "${1:-}" in
  --detach) detach=1 ;;
  "") ;;
  *) echo "usage: $0 [--detach]" >&2; exit 2 ;;
esac

export OVS_RUNDIR=${OVS_RUNDIR:-/var/run/openvswitch}
export OVS_DBDIR=${OVS_DBDIR:-/etc/openvswitch}
export OVS_LOGDIR=${OVS_LOGDIR:-/var/log/openvswitch}
export OVS_SYSCONFDIR=${OVS_SYSCONFDIR:-/etc}
schema=${OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
db=$OVS_DBDIR/conf.db
sock=$OVS_RUNDIR/db.sock
mkdir -p "$OVS_RUNDIR" "$OVS_DBDIR" "$OVS_LOGDIR"

log() { echo "start-ovs: $*" >&2; }

# config_value KEY FILE: a top-level scalar of the agent's YAML file ("key: value" or "key: \"value\"").
config_value() {
  sed -n "s/^$1:[[:space:]]*[\"']\{0,1\}\([^\"'#[:space:]]*\).*/\1/p" "$2" | tail -n 1
}

datapath=${OVS_DATAPATH:-}
tso=${OVS_USERSPACE_TSO:-}
if [ -n "${SWITCHYARD_AGENT_CONFIG:-}" ]; then
  [ -r "$SWITCHYARD_AGENT_CONFIG" ] || { log "cannot read the agent configuration $SWITCHYARD_AGENT_CONFIG"; exit 1; }
  if [ -z "$datapath" ]; then
    datapath=$(config_value datapathType "$SWITCHYARD_AGENT_CONFIG")
    datapath=${datapath:-system}
  fi
  if [ -z "$tso" ]; then
    tso=false
    if [ "$datapath" = netdev ] && [ "$(config_value trafficMode "$SWITCHYARD_AGENT_CONFIG")" = noEncap ]; then
      tso=true
    fi
  fi
fi
case "${tso:-false}" in
  true|false) ;;
  *) log "OVS_USERSPACE_TSO=\"$tso\" must be true or false"; exit 2 ;;
esac
case "$datapath" in
  system)
    if [ ! -d /sys/module/openvswitch ]; then
      log "loading the openvswitch kernel module (datapath system)"
      if ! modprobe openvswitch; then
        log "the system datapath needs the openvswitch kernel module; install it on the node or set datapathType: netdev"
        exit 1
      fi
    fi ;;
  netdev)
    if [ ! -c /dev/net/tun ]; then
      log "the netdev datapath needs /dev/net/tun (its bridge and internal ports are tap devices)"
      exit 1
    fi ;;
  "") ;;
  *) log "unknown datapath \"$datapath\" (system or netdev)"; exit 2 ;;
esac

if [ ! -s "$db" ]; then
  log "creating $db"
  ovsdb-tool create "$db" "$schema"
elif [ "$(ovsdb-tool needs-conversion "$db" "$schema")" = yes ]; then
  log "upgrading $db to the installed schema"
  ovsdb-tool convert "$db" "$schema"
fi

ovsdb-server -vconsole:off "$db" --remote="punix:$sock" --pidfile="$OVS_RUNDIR/ovsdb-server.pid" \
  --unixctl="$OVS_RUNDIR/ovsdb-server.ctl" --log-file="$OVS_LOGDIR/ovsdb-server.log" --detach --no-chdir
vsctl() { ovs-vsctl --db="unix:$sock" --timeout=30 "$@"; }
vsctl --no-wait init
vsctl --no-wait set Open_vSwitch . external_ids:system-id="${OVS_SYSTEM_ID:-$(hostname)}"

if [ -n "$(vsctl --no-wait list-br)" ]; then
  log "existing bridges: ovs-vswitchd waits for the agent to restore flows (flow-restore-wait)"
  vsctl --no-wait set Open_vSwitch . other_config:flow-restore-wait=true
fi

# ovs-vswitchd reads userspace-tso-enable only when it starts, so it is set right before, every time.
if [ "${tso:-false}" = true ]; then
  vsctl --no-wait set Open_vSwitch . other_config:userspace-tso-enable=true
else
  vsctl --no-wait remove Open_vSwitch . other_config userspace-tso-enable
fi

ovs-vswitchd -vconsole:off "unix:$sock" --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" \
  --unixctl="$OVS_RUNDIR/ovs-vswitchd.ctl" --log-file="$OVS_LOGDIR/ovs-vswitchd.log" --detach --no-chdir
vsctl init   # returns once ovs-vswitchd has applied the database
log "Open vSwitch $(ovs-vswitchd --version | head -1 | awk '{print $NF}') running (rundir $OVS_RUNDIR)"

[ "$detach" = 1 ] && exit 0

# Foreground (container): stop OVS cleanly when the container is stopped, and exit if a daemon dies.
stop() {
  log "stopping"
  for d in ovs-vswitchd ovsdb-server; do
    ovs-appctl -t "$OVS_RUNDIR/$d.ctl" exit 2>/dev/null || true
  done
  exit 0
}
trap stop TERM INT
max_log=${OVS_LOG_MAX_BYTES:-104857600}
rotate_logs() {
  for d in ovsdb-server ovs-vswitchd; do
    f=$OVS_LOGDIR/$d.log
    if [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -gt "$max_log" ]; then
      mv -f "$f" "$f.1"
      ovs-appctl -t "$OVS_RUNDIR/$d.ctl" vlog/reopen >/dev/null 2>&1 || true
    fi
  done
}
while kill -0 "$(cat "$OVS_RUNDIR/ovsdb-server.pid")" 2>/dev/null && kill -0 "$(cat "$OVS_RUNDIR/ovs-vswitchd.pid")" 2>/dev/null; do
  rotate_logs
  sleep 2 &
  wait $! || true
done
log "an OVS daemon exited"
exit 1

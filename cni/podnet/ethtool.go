package podnet

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
)

// SetTxChecksum turns tx checksum offload (and with it TSO) of the pod interface ifName in the netns at netnsPath
// on or off, for a pod attached before the switch's offload support changed.
func SetTxChecksum(netnsPath, ifName string, on bool) error {
	return ns.WithNetNSPath(netnsPath, func(ns.NetNS) error { return setTxChecksum(ifName, on) })
}

// ethtoolValue is the kernel's struct ethtool_value.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ifreqData is the kernel's struct ifreq with ifr_data set, padded to the full size of
// struct ifreq (40 bytes on 64-bit) because the kernel copies that much.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// ethtoolValueCmd runs one SIOCETHTOOL command that takes a struct ethtool_value on ifName
// in the calling thread's network namespace, and returns the value the kernel left in it.
func ethtoolValueCmd(ifName string, cmd, data uint32) (uint32, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open ethtool socket: %w", err)
	}
	defer unix.Close(fd)

	val := ethtoolValue{cmd: cmd, data: data}
	var ifr ifreqData
	copy(ifr.name[:unix.IFNAMSIZ-1], ifName)
	ifr.data = unsafe.Pointer(&val)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&ifr)
	if errno != 0 {
		return 0, errno
	}
	return val.data, nil
}

// setTxChecksum turns tx checksum offload of ifName on or off (ethtool -K <if> tx on|off),
// in the calling thread's network namespace.
func setTxChecksum(ifName string, on bool) error {
	var v uint32
	if on {
		v = 1
	}
	if _, err := ethtoolValueCmd(ifName, unix.ETHTOOL_STXCSUM, v); err != nil {
		return fmt.Errorf("set tx checksum offload of %q to %v: %w", ifName, on, err)
	}
	return nil
}

// txChecksum reports whether tx checksum offload is on for ifName, in the calling thread's
// network namespace.
func txChecksum(ifName string) (bool, error) {
	v, err := ethtoolValueCmd(ifName, unix.ETHTOOL_GTXCSUM, 0)
	if err != nil {
		return false, fmt.Errorf("read tx checksum offload of %q: %w", ifName, err)
	}
	return v != 0, nil
}

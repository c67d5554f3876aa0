package openflow

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// UnreachableError says the bridge or ovs-vswitchd did not answer: OVS is not running, the
// socket path is wrong, or the bridge does not exist. Retrying later may help; changing the
// request will not.
type UnreachableError struct {
	Command string // e.g. "ovs-ofctl bundle"
	Target  string // the switch or unixctl target that did not answer
	Output  string // what the command printed
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s: %s not reachable: %s", e.Command, e.Target, strings.TrimSpace(e.Output))
}

// RejectedError says ovs-ofctl, ovs-appctl or the switch refused the request itself: a flow,
// group or filter that does not parse, or a mod the switch rejects (unknown group, duplicate
// group...). A rejected bundle changed nothing.
type RejectedError struct {
	Command string
	// LineNo is the 1-based bundle line ovs-ofctl could not parse, and Line its text. 0 and ""
	// when the switch rejected the bundle; Output then quotes the offending mod as OVS decoded it.
	LineNo int
	Line   string
	Output string
}

func (e *RejectedError) Error() string {
	out := strings.TrimSpace(e.Output)
	if e.LineNo > 0 {
		return fmt.Sprintf("%s: line %d %q rejected: %s", e.Command, e.LineNo, e.Line, out)
	}
	return fmt.Sprintf("%s rejected: %s", e.Command, out)
}

// CommandError is any other failure of an OVS command (missing binary, cancelled context...).
type CommandError struct {
	Command string
	Output  string
	Err     error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s: %v: %s", e.Command, e.Err, strings.TrimSpace(e.Output))
}

func (e *CommandError) Unwrap() error { return e.Err }

// stdinLineError is ovs-ofctl's report of a bad line read from "-": "ovs-ofctl: -:4: message".
var stdinLineError = regexp.MustCompile(`(?m)^ovs-ofctl: -:(\d+): `)

// unreachableSigns are what ovs-ofctl and ovs-appctl print when they cannot talk to the daemon.
var unreachableSigns = []string{
	"connecting to ",      // ovs-ofctl: connecting to unix:/x.mgmt (No such file or directory)
	"failed to connect",   // ovs-ofctl: unix:/x.mgmt: failed to connect to socket (Broken pipe)
	"cannot connect to",   // ovs-appctl: cannot connect to "/x.ctl" (Connection refused)
	"cannot read pidfile", // ovs-appctl -t ovs-vswitchd without a running daemon
	": unknown bridge",    // ofproto/trace on a bridge this vswitchd does not have
	"is not a bridge or a socket",
}

// classify turns a failed command into an *UnreachableError, a *RejectedError or a
// *CommandError. stdin is the bundle text, to quote the line a parse error points at.
func (c *Client) classify(command, stdin, output string, err error) error {
	if _, isExit := err.(interface{ ExitCode() int }); !isExit {
		return &CommandError{Command: command, Output: output, Err: err}
	}
	for _, sign := range unreachableSigns {
		if strings.Contains(output, sign) {
			target := c.target
			switch {
			case sign == ": unknown bridge":
				target = c.bridge
			case strings.HasPrefix(command, "ovs-appctl"):
				target = c.appctlT
			}
			return &UnreachableError{Command: command, Target: target, Output: output}
		}
	}
	if strings.Contains(output, "talking to ") && !strings.Contains(output, "Protocol error") {
		// The daemon went away mid-command (End of file, Broken pipe...).
		return &UnreachableError{Command: command, Target: c.target, Output: output}
	}
	rejected := &RejectedError{Command: command, Output: output}
	if m := stdinLineError.FindStringSubmatch(output); m != nil {
		rejected.LineNo, _ = strconv.Atoi(m[1])
		if lines := strings.Split(stdin, "\n"); rejected.LineNo <= len(lines) {
			rejected.Line = lines[rejected.LineNo-1]
		}
	}
	return rejected
}

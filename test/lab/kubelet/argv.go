package kubelet

import (
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/switchyard-net/switchyard/test/lab/workload"
)

// isBuiltin says whether the container runs the built-in server: it has no command.
func isBuiltin(c *v1.Container) bool { return len(c.Command) == 0 }

// serveOptions are the built-in server's options for a container: the pod's name, every containerPort by
// protocol (TCP when unset), and the ready file.
func serveOptions(pod *v1.Pod, c *v1.Container, readyFile string) workload.Options {
	o := workload.Options{Name: pod.Name, ReadyFile: readyFile}
	for _, p := range c.Ports {
		port := int(p.ContainerPort)
		switch p.Protocol {
		case v1.ProtocolUDP:
			o.UDP = appendOnce(o.UDP, port)
		case v1.ProtocolSCTP:
			o.SCTP = appendOnce(o.SCTP, port)
		default:
			o.TCP = appendOnce(o.TCP, port)
		}
	}
	return o
}

func appendOnce(ports []int, p int) []int {
	if slices.Contains(ports, p) {
		return ports
	}
	return append(ports, p)
}

// containerArgv is what a container runs: the built-in server (serveCommand and its flags) when it has no
// command, else command and args with $(VAR) references expanded from env as Kubernetes does.
func containerArgv(pod *v1.Pod, c *v1.Container, serveCommand []string, readyFile string, env []string) []string {
	if isBuiltin(c) {
		return append(slices.Clone(serveCommand), serveOptions(pod, c, readyFile).Args()...)
	}
	vars := envMap(env)
	var argv []string
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		argv = append(argv, expand(a, vars))
	}
	return argv
}

// basePath is the PATH of every container.
const basePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// containerEnv is a container's environment: PATH, HOSTNAME (the pod's name) and the container's env entries
// with literal values or fieldRefs to the pod's name, namespace, uid, node, service account, IPs and host IP,
// later entries expanding $(VAR) references to earlier ones. Other valueFrom sources are not supported in the
// lab and are left out.
func containerEnv(pod *v1.Pod, c *v1.Container, podIPs []string, hostIP string) []string {
	env := []string{basePath, "HOSTNAME=" + pod.Name}
	vars := envMap(env)
	for _, e := range c.Env {
		var val string
		switch {
		case e.ValueFrom == nil:
			val = expand(e.Value, vars)
		case e.ValueFrom.FieldRef != nil:
			v, ok := fieldRef(pod, e.ValueFrom.FieldRef.FieldPath, podIPs, hostIP)
			if !ok {
				continue
			}
			val = v
		default:
			continue
		}
		env = append(env, e.Name+"="+val)
		vars[e.Name] = val
	}
	return env
}

// fieldRef resolves the downward-API fields the lab supports.
func fieldRef(pod *v1.Pod, path string, podIPs []string, hostIP string) (string, bool) {
	switch path {
	case "metadata.name":
		return pod.Name, true
	case "metadata.namespace":
		return pod.Namespace, true
	case "metadata.uid":
		return string(pod.UID), true
	case "spec.nodeName":
		return pod.Spec.NodeName, true
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, true
	case "status.podIP":
		if len(podIPs) > 0 {
			return podIPs[0], true
		}
		return "", true
	case "status.podIPs":
		return strings.Join(podIPs, ","), true
	case "status.hostIP", "status.hostIPs":
		return hostIP, true
	}
	return "", false
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// expand replaces $(NAME) with the value of NAME when defined (an undefined reference stays as written) and
// $$ with $, the way Kubernetes expands command, args and env values.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

package manifest

import (
	"bytes"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/switchyard-net/switchyard/agent/config"
	"github.com/switchyard-net/switchyard/build/images"
	"github.com/switchyard-net/switchyard/build/yamls"
	"github.com/switchyard-net/switchyard/cni/api"
)

const root = "../../.."

// The committed manifest is the generator's output: it cannot drift from its sources.
func TestCommittedManifestIsGenerated(t *testing.T) {
	want, err := Render(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "build", "yamls", "switchyard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("build/yamls/switchyard.yaml is out of date: run `go run ./build/yamls/gen` (make manifests)")
	}
}

// docs/install.md's configuration reference is generated too, and names every option of the agent.
func TestInstallDocReferencesEveryOption(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	fields, err := Fields(root)
	if err != nil {
		t.Fatal(err)
	}
	want, err := UpdateDoc(doc, ConfigReference(fields))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, want) {
		t.Error("docs/install.md's configuration reference is out of date: run `go run ./build/yamls/gen` (make manifests)")
	}
	typ := reflect.TypeOf(config.Config{})
	for i := range typ.NumField() {
		key, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if !bytes.Contains(doc, []byte("| `"+key+"` |")) {
			t.Errorf("config.Config.%s (%s) is missing from docs/install.md", typ.Field(i).Name, key)
		}
	}
	if len(fields) != typ.NumField() {
		t.Errorf("%d fields read, config.Config has %d", len(fields), typ.NumField())
	}
}

// Field docs: own comments, shared comments, flags.
func TestFields(t *testing.T) {
	fields, err := Fields(root)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Field{}
	for _, f := range fields {
		by[f.Key] = f
	}
	if f := by["bridge"]; f.Flag != "--bridge" || f.Default != "br-int" || !strings.Contains(f.Doc, "integration bridge") {
		t.Errorf("bridge: %+v", f)
	}
	if by["cniConfName"].Doc != by["cniConfDir"].Doc || by["logLevel"].Doc != by["logFormat"].Doc {
		t.Error("fields declared under one comment do not share it")
	}
}

// objects splits the manifest and decodes each document strictly into its typed object: a misspelt or misplaced
// field is an error here, before any apiserver sees it.
func objects(t *testing.T) (*corev1.ConfigMap, *appsv1.DaemonSet, *rbacv1.ClusterRole) {
	t.Helper()
	m, err := Render(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var cm *corev1.ConfigMap
	var ds *appsv1.DaemonSet
	var cr *rbacv1.ClusterRole
	kinds := map[string]bool{}
	for _, doc := range strings.Split(string(m), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch meta.Kind {
		case "ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "ClusterRole":
			obj = &rbacv1.ClusterRole{}
			if strings.Contains(doc, "\n  name: "+yamls.AgentServiceAccount+"\n") {
				cr = obj.(*rbacv1.ClusterRole)
			}
		case "ClusterRoleBinding":
			obj = &rbacv1.ClusterRoleBinding{}
		case "Namespace":
			obj = &corev1.Namespace{}
		case "Role":
			obj = &rbacv1.Role{}
		case "RoleBinding":
			obj = &rbacv1.RoleBinding{}
		case "ConfigMap":
			cm = &corev1.ConfigMap{}
			obj = cm
		case "DaemonSet":
			ds = &appsv1.DaemonSet{}
			obj = ds
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
		kinds[meta.Kind] = true
	}
	if len(kinds) != 8 || cm == nil || ds == nil || cr == nil {
		t.Fatalf("kinds %v", kinds)
	}
	return cm, ds, cr
}

// The ConfigMap's agent.yaml loads strictly as the agent loads it, gives exactly the defaults, and has every
// option but the per-node ones.
func TestConfigMapIsTheAgentsDefaults(t *testing.T) {
	cm, _, _ := objects(t)
	file := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(file, []byte(cm.Data[ConfigMapKey]), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, config.Default()) {
		t.Errorf("the ConfigMap's configuration differs from config.Default():\n%+v\n%+v", got, config.Default())
	}
	var keys map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data[ConfigMapKey]), &keys); err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(config.Config{})
	for i := range typ.NumField() {
		key, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		_, present := keys[key]
		_, node := perNode[key]
		if present == node {
			t.Errorf("option %s: in the ConfigMap %v, per node %v", key, present, node)
		}
	}
	got.NodeName = "n1"
	if err := got.Validate(); err != nil {
		t.Errorf("the ConfigMap's configuration does not validate: %v", err)
	}
}

func container(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

// The DaemonSet has what the issue asks for: host network, system-node-critical, every NoSchedule/NoExecute
// taint tolerated, rolling update one node at a time, the three containers with probes, and least privilege.
func TestDaemonSetShape(t *testing.T) {
	cm, ds, _ := objects(t)
	s := ds.Spec.Template.Spec
	if ds.Namespace != yamls.AgentNamespace || cm.Namespace != yamls.AgentNamespace || s.ServiceAccountName != yamls.AgentServiceAccount {
		t.Errorf("namespace %s/%s, service account %s", ds.Namespace, cm.Namespace, s.ServiceAccountName)
	}
	if !s.HostNetwork || s.DNSPolicy != corev1.DNSClusterFirstWithHostNet || s.PriorityClassName != "system-node-critical" {
		t.Errorf("hostNetwork %v dnsPolicy %s priorityClass %s", s.HostNetwork, s.DNSPolicy, s.PriorityClassName)
	}
	for _, eff := range []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute} {
		if !slices.ContainsFunc(s.Tolerations, func(tl corev1.Toleration) bool {
			return tl.Key == "" && tl.Operator == corev1.TolerationOpExists && tl.Effect == eff
		}) {
			t.Errorf("no toleration of every %s taint", eff)
		}
	}
	u := ds.Spec.UpdateStrategy
	if u.Type != appsv1.RollingUpdateDaemonSetStrategyType || u.RollingUpdate.MaxUnavailable.IntValue() != 1 {
		t.Errorf("update strategy %+v", u)
	}
	if len(s.InitContainers) != 1 || s.InitContainers[0].Name != "install-cni" || len(s.Containers) != 2 {
		t.Fatalf("init containers %d, containers %d", len(s.InitContainers), len(s.Containers))
	}
	ic := s.InitContainers[0]
	if sc := ic.SecurityContext; sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("install-cni: capabilities %+v, want none", sc.Capabilities)
	}
	ovs := container(t, s.Containers, "switchyard-ovs")
	if sc := ovs.SecurityContext; (sc.Privileged != nil && *sc.Privileged) ||
		!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_ADMIN", "NET_RAW", "SYS_MODULE"}) {
		t.Errorf("switchyard-ovs: security context %+v", sc)
	}
	agent := container(t, s.Containers, "switchyard-agent")
	if sc := agent.SecurityContext; sc.Privileged == nil || !*sc.Privileged {
		t.Error("switchyard-agent is not privileged (it writes /proc/sys)")
	}
	if ovs.LivenessProbe == nil || ovs.ReadinessProbe == nil || ovs.LivenessProbe.Exec == nil || ovs.ReadinessProbe.Exec == nil {
		t.Errorf("switchyard-ovs: liveness %v readiness %v", ovs.LivenessProbe, ovs.ReadinessProbe)
	}
	// The agent's probes ask its health endpoints where the ConfigMap's metricsAddress serves them.
	var cfg config.Config
	if err := yaml.UnmarshalStrict([]byte(cm.Data[ConfigMapKey]), &cfg); err != nil {
		t.Fatal(err)
	}
	for path, p := range map[string]*corev1.Probe{"/healthz": agent.LivenessProbe, "/readyz": agent.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
			t.Errorf("agent probe for %s: %+v", path, p)
			continue
		}
		host, port, err := net.SplitHostPort(cfg.MetricsAddress)
		if err != nil || port != p.HTTPGet.Port.String() || (host != p.HTTPGet.Host && host != "" && host != "0.0.0.0") {
			t.Errorf("agent probe %s asks %s:%s, the agent serves metricsAddress %s", path, p.HTTPGet.Host, p.HTTPGet.Port.String(), cfg.MetricsAddress)
		}
	}
	if !slices.ContainsFunc(agent.Env, func(e corev1.EnvVar) bool {
		return e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName"
	}) {
		t.Error("the agent has no NODE_NAME from spec.nodeName")
	}
	if c := agent.Command; len(c) != 3 || c[1] != "--config" || !strings.HasSuffix(c[2], "/"+ConfigMapKey) {
		t.Errorf("agent command %q", c)
	}
}

// mountFor is the mount of c that holds path (longest mount path wins), with its volume.
func mountFor(s corev1.PodSpec, c corev1.Container, p string) (*corev1.VolumeMount, *corev1.Volume) {
	var best *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if (p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")) && (best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = &c.VolumeMounts[i]
		}
	}
	if best == nil {
		return nil, nil
	}
	for i, v := range s.Volumes {
		if v.Name == best.Name {
			return best, &s.Volumes[i]
		}
	}
	return best, nil
}

// Every path of the agent's configuration is on a host mount at the same host path, shared with OVS where OVS
// creates it; pod namespaces propagate; every volume is used; every command the containers run is in the image.
func TestDaemonSetMountsAndCommands(t *testing.T) {
	_, ds, _ := objects(t)
	s := ds.Spec.Template.Spec
	cfg := config.Default()
	agent := container(t, s.Containers, "switchyard-agent")
	ovs := container(t, s.Containers, "switchyard-ovs")
	paths := map[string]string{"ovsdbEndpoint": strings.TrimPrefix(cfg.OVSDBEndpoint, "unix:"), "ovsRunDir": cfg.OVSRunDir,
		"cniConfDir": cfg.CNIConfDir, "apiSocket": cfg.APISocket, "stateDir": cfg.StateDir, "pod netns": "/var/run/netns/cni-x"}
	for name, p := range paths {
		m, v := mountFor(s, agent, p)
		if m == nil || v == nil || v.HostPath == nil || v.HostPath.Path != m.MountPath {
			t.Errorf("agent %s %s: mount %+v volume %+v, want a host path at the same place", name, p, m, v)
		}
	}
	if m, _ := mountFor(s, agent, "/var/run/netns/x"); m == nil || m.MountPropagation == nil || *m.MountPropagation != corev1.MountPropagationHostToContainer {
		t.Errorf("/var/run/netns: %+v, want HostToContainer propagation", m)
	}
	env := map[string]string{}
	for _, e := range ovs.Env {
		env[e.Name] = e.Value
	}
	if env["OVS_RUNDIR"] != cfg.OVSRunDir || env["SWITCHYARD_AGENT_CONFIG"] != agent.Command[2] {
		t.Errorf("OVS env %v: rundir must be the agent's ovsRunDir, the config the agent's", env)
	}
	for _, p := range []string{env["OVS_RUNDIR"], env["OVS_DBDIR"], env["OVS_LOGDIR"], env["SWITCHYARD_AGENT_CONFIG"], "/lib/modules/x", "/dev/net/tun"} {
		if m, v := mountFor(s, ovs, p); m == nil || v == nil {
			t.Errorf("switchyard-ovs: %s is not mounted", p)
		}
	}
	om, _ := mountFor(s, ovs, cfg.OVSRunDir)
	am, _ := mountFor(s, agent, cfg.OVSRunDir)
	if om == nil || am == nil || om.Name != am.Name {
		t.Errorf("OVS and the agent do not share %s", cfg.OVSRunDir)
	}
	used := map[string]bool{}
	for _, c := range append(append([]corev1.Container{}, s.InitContainers...), s.Containers...) {
		for _, m := range c.VolumeMounts {
			used[m.Name] = true
		}
	}
	for _, v := range s.Volumes {
		if !used[v.Name] {
			t.Errorf("volume %s is not mounted anywhere", v.Name)
		}
		delete(used, v.Name)
	}
	for v := range used {
		t.Errorf("mount of undefined volume %s", v)
	}

	df, err := images.ParseDockerfile(filepath.Join(root, "build", "images", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	inImage := df.InstalledFiles("/usr/local/bin")
	for _, c := range append(append([]corev1.Container{}, s.InitContainers...), s.Containers...) {
		cmds := [][]string{c.Command}
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
			if p != nil && p.Exec != nil {
				cmds = append(cmds, p.Exec.Command)
			}
		}
		for _, cmd := range cmds {
			if path.Dir(cmd[0]) == "/usr/local/bin" && inImage[cmd[0]] == "" {
				t.Errorf("%s runs %s, which the Dockerfile does not install", c.Name, cmd[0])
			}
		}
		if c.Image != DefaultImage {
			t.Errorf("%s: image %s", c.Name, c.Image)
		}
		for _, e := range c.Env {
			if e.Name == "SWITCHYARD_CNI_SRC" && inImage[e.Value] == "" {
				t.Errorf("%s: %s=%s is not in the image", c.Name, e.Name, e.Value)
			}
		}
	}
}

// The RBAC in the manifest is base/agent-rbac.yaml verbatim (the file the lab's agents run with), read-only but
// for creating Events.
func TestManifestRBACIsTheBase(t *testing.T) {
	m, err := Render(Options{Root: root, Image: "example.com/sy:1"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(m, bytes.TrimRight(yamls.AgentRBAC(), "\n")) {
		t.Error("the manifest does not carry base/agent-rbac.yaml verbatim")
	}
	if !bytes.Contains(m, []byte("image: example.com/sy:1")) {
		t.Error("-image is not used")
	}
	_, _, cr := objects(t)
	reviews := []string{"tokenreviews", "subjectaccessreviews"}
	for _, r := range cr.Rules {
		events := slices.Equal(r.APIGroups, []string{""}) && slices.Equal(r.Resources, []string{"events"})
		for _, v := range r.Verbs {
			review := v == "create" && len(r.Resources) == 1 && slices.Contains(reviews, r.Resources[0])
			if !slices.Contains([]string{"get", "list", "watch"}, v) && !review && !(events && v == "create") {
				t.Errorf("rule %v grants %s: cluster-wide the agent only reads (and asks for reviews, which store nothing, and creates Events)", r, v)
			}
		}
	}
	// The agent's only writes: the Leases of the namespace that holds its remote API's Leases and nothing else.
	for _, doc := range strings.Split(string(m), "\n---\n") {
		if !strings.Contains(doc, "\nkind: Role\n") {
			continue
		}
		var role rbacv1.Role
		if err := yaml.UnmarshalStrict([]byte(doc), &role); err != nil {
			t.Fatal(err)
		}
		if role.Namespace != api.RemoteAPINamespace {
			t.Errorf("Role %s/%s: the agent's only Role is in %s", role.Namespace, role.Name, api.RemoteAPINamespace)
		}
		for _, r := range role.Rules {
			if !slices.Equal(r.APIGroups, []string{"coordination.k8s.io"}) || !slices.Equal(r.Resources, []string{"leases"}) {
				t.Errorf("Role %s rule %v: the agent may write Leases only", role.Name, r)
			}
		}
	}
}

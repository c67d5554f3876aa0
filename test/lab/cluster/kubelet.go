package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/switchyard-net/switchyard/test/lab/kubelet"
)

// KubeletConfig is node i's lab kubelet configuration. A nil client is enough for Teardown.
func (l *Lab) KubeletConfig(i int, client kubernetes.Interface, log logrus.FieldLogger) kubelet.Config {
	return kubelet.Config{
		NodeName: l.Plan.NodeName(i), NodeIP: l.Plan.NodeIP(i).String(), Client: client,
		CNIConfDir: l.cniConfDir(i), CNIBinDir: l.cniBinDir(i), CNICacheDir: l.cniCacheDir(i),
		StateDir: l.kubeletDir(i), NodeNetns: l.Plan.NodeNS(i), NetnsPrefix: l.Plan.PodNetnsPrefix(i) + "-",
		ServeCommand: []string{filepath.Join(l.Options.BinDir, "switchyard-lab"), "--state", l.Options.StateDir, "serve"},
		Log:          log,
	}
}

// KubeletClient is node i's kubelet identity (system:node:<name>), talking to the API server over the underlay.
func (l *Lab) KubeletClient(i int) (kubernetes.Interface, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", l.kubeletKubeconfig(i))
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = 20, 50
	return kubernetes.NewForConfig(rc)
}

// teardownPods removes node i's pods the way a drained node would: processes, CNI DEL, namespaces.
func (l *Lab) teardownPods(i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	if err := kubelet.Teardown(ctx, l.KubeletConfig(i, nil, log)); err != nil {
		return fmt.Errorf("removing pods: %w", err)
	}
	return nil
}

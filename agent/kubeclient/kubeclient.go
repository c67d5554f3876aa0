// Package kubeclient is how the agent talks to the Kubernetes API: protobuf on the wire (smaller and cheaper to
// decode than JSON when the informers list thousands of Services and EndpointSlices), and informer caches that
// keep no managedFields, which the agent never reads and which can be as large as the rest of an object.
package kubeclient

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Protobuf is the content type the agent asks for; JSON stays accepted for types without a protobuf encoding.
const (
	Protobuf = "application/vnd.kubernetes.protobuf"
	accept   = Protobuf + ",application/json"
)

// Config returns the client configuration from a kubeconfig file, or the in-cluster ServiceAccount when the path
// is empty, set up for the agent's use (see WithProtobuf).
func Config(kubeconfig string) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	return WithProtobuf(rc), nil
}

// WithProtobuf makes rc speak protobuf to the API server.
func WithProtobuf(rc *rest.Config) *rest.Config {
	rc = rest.CopyConfig(rc)
	rc.ContentType = Protobuf
	rc.AcceptContentTypes = accept
	return rc
}

// StripManagedFields is an informer transform (informers.WithTransform) that drops metadata.managedFields before
// an object enters the cache. Objects that are not Kubernetes objects (tombstones) pass unchanged.
func StripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

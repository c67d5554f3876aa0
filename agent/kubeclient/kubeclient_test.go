package kubeclient

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

func TestStripManagedFields(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}}}
	out, err := StripManagedFields(svc)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*corev1.Service)
	if got.ManagedFields != nil || got.Name != "web" || got.Labels["app"] != "web" {
		t.Errorf("after the transform: %+v", got.ObjectMeta)
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "default/web", Obj: svc}
	if out, err := StripManagedFields(tomb); err != nil || out != any(tomb) {
		t.Errorf("a tombstone: %v, %v", out, err)
	}
}

func TestWithProtobufCopies(t *testing.T) {
	rc := &rest.Config{Host: "https://127.0.0.1:6443"}
	pb := WithProtobuf(rc)
	if pb.ContentType != Protobuf || pb.AcceptContentTypes != Protobuf+",application/json" || pb.Host != rc.Host {
		t.Errorf("WithProtobuf: %+v", pb)
	}
	if rc.ContentType != "" {
		t.Errorf("WithProtobuf changed its argument: %+v", rc)
	}
}

package events

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
)

// One Event per distinct problem: the same message again is not repeated, a new message is, and a problem that
// was cleared (or whose object was deleted) is reported again when it comes back.
func TestReportDeduplicates(t *testing.T) {
	fake := record.NewFakeRecorder(100)
	r := newRecorder(fake, func() {})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "web"}}
	report := func(msg string) { r.Report(svc, "Service", "x", "web", InvalidService, msg) }
	report("externalIPs[0] fd00::1 is not IPv4; ignored")
	report("externalIPs[0] fd00::1 is not IPv4; ignored")
	report("externalIPs[0] fd00::2 is not IPv4; ignored")
	report("")
	report("")
	report("externalIPs[0] fd00::2 is not IPv4; ignored")
	r.Forget("Service", "x", "web")
	report("externalIPs[0] fd00::2 is not IPv4; ignored")
	r.Report(svc, "Service", "x", "web", InvalidPolicy, "other reason")
	close(fake.Events)
	var got []string
	for e := range fake.Events {
		got = append(got, e)
	}
	want := []string{
		"Warning InvalidService externalIPs[0] fd00::1 is not IPv4; ignored",
		"Warning InvalidService externalIPs[0] fd00::2 is not IPv4; ignored",
		"Warning InvalidService externalIPs[0] fd00::2 is not IPv4; ignored",
		"Warning InvalidService externalIPs[0] fd00::2 is not IPv4; ignored",
		"Warning InvalidPolicy other reason",
	}
	if len(got) != len(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %q, want %q", i, got[i], want[i])
		}
	}
	var nilRec *Recorder
	nilRec.Report(svc, "Service", "x", "web", InvalidService, "ignored") // no panic
}

package apiserver

import (
	"context"
	"errors"
	"net/http"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeReviews answers TokenReviews (token "alice-token" is alice, "bob-token" is bob, others unknown) and
// SubjectAccessReviews (alice may get nodes/switchyard of node n1, nobody else anything), counting the calls.
func fakeReviews(calls *int) *fake.Clientset {
	cs := fake.NewSimpleClientset()
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		*calls++
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		switch tr.Spec.Token {
		case "alice-token":
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "alice", Groups: []string{"devs"}}}
		case "bob-token":
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "bob"}}
		case "broken":
			return true, nil, errors.New("apiserver unavailable")
		}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		*calls++
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		sar.Status.Allowed = sar.Spec.User == "alice" && ra.Verb == "get" && ra.Resource == "nodes" &&
			ra.Subresource == "switchyard" && ra.Name == "n1"
		return true, sar, nil
	})
	return cs
}

func TestKubeAuth(t *testing.T) {
	calls := 0
	k := &KubeAuth{Client: fakeReviews(&calls), Node: "n1"}
	req := func(auth string) *http.Request {
		r, _ := http.NewRequest("GET", "https://n1/v1/status", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	status := func(err error) int {
		var ae *AuthError
		if errors.As(err, &ae) {
			return ae.Status
		}
		if err != nil {
			return -1
		}
		return 200
	}
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"Bearer alice-token", 200},
		{"", 401},
		{"Basic YWxpY2U6eA==", 401},
		{"Bearer ", 401},
		{"Bearer mallory-token", 401},
		{"Bearer bob-token", 403},
		{"Bearer broken", -1}, // the API's failure is not a refusal (503 to the client), and is not cached
	} {
		user, err := k.Authorize(context.Background(), req(tc.auth))
		if got := status(err); got != tc.want {
			t.Errorf("%q: status %d (%v), want %d", tc.auth, got, err, tc.want)
		}
		if tc.want == 200 && user != "alice" {
			t.Errorf("%q: user %q", tc.auth, user)
		}
	}
	before := calls
	for _, auth := range []string{"Bearer alice-token", "Bearer bob-token", "Bearer mallory-token"} {
		_, _ = k.Authorize(context.Background(), req(auth))
	}
	if calls != before {
		t.Errorf("cached answers asked the API server %d more times", calls-before)
	}
	_, _ = k.Authorize(context.Background(), req("Bearer broken"))
	if calls != before+1 {
		t.Errorf("a failed review must be asked again, not cached")
	}
	if err := k.Preflight(context.Background()); err != nil {
		t.Errorf("preflight: %v", err)
	}
}

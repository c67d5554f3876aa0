package apiserver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The access a remote client needs: get on the subresource "switchyard" of this node's Node (RBAC: resources
// ["nodes/switchyard"], verb get; ClusterRole switchyard-debugger in build/yamls/base/agent-rbac.yaml).
const (
	RemoteResource    = "nodes"
	RemoteSubresource = "switchyard"
	RemoteVerb        = "get"
)

// KubeAuth authenticates remote clients by their bearer token with a TokenReview and authorizes them with a
// SubjectAccessReview, as the kubelet does with webhook authentication and authorization. Answers are cached for
// TTL per token, so a trace's requests cost the API server one review each per TTL.
type KubeAuth struct {
	Client kubernetes.Interface
	Node   string
	TTL    time.Duration // 0 means 10 seconds

	mu    sync.Mutex
	cache map[[sha256.Size]byte]verdict
}

type verdict struct {
	user  string
	err   error
	until time.Time
}

// maxCached bounds the cache; past it the cache starts over (a client sending many tokens gains nothing).
const maxCached = 1024

// Authorize implements Authorizer.
func (k *KubeAuth) Authorize(ctx context.Context, r *http.Request) (string, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		return "", &AuthError{Status: http.StatusUnauthorized,
			Msg: "no bearer token: the remote API needs a Kubernetes token (yardctl --kubeconfig sends the kubeconfig's)"}
	}
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	k.mu.Lock()
	if v, ok := k.cache[key]; ok && now.Before(v.until) {
		k.mu.Unlock()
		return v.user, v.err
	}
	k.mu.Unlock()
	user, err := k.review(ctx, token)
	if _, refused := err.(*AuthError); err == nil || refused {
		ttl := k.TTL
		if ttl == 0 {
			ttl = 10 * time.Second
		}
		k.mu.Lock()
		if k.cache == nil || len(k.cache) >= maxCached {
			k.cache = map[[sha256.Size]byte]verdict{}
		}
		k.cache[key] = verdict{user: user, err: err, until: now.Add(ttl)}
		k.mu.Unlock()
	}
	return user, err
}

// Preflight checks that the agent may review tokens and access before it serves anyone: a TokenReview of a
// token that is no one's and a SubjectAccessReview of the anonymous user must both be answered.
func (k *KubeAuth) Preflight(ctx context.Context) error {
	if _, err := k.Client.AuthenticationV1().TokenReviews().Create(ctx,
		&authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: "switchyard-agent-preflight"}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("TokenReview: %w", err)
	}
	if _, err := k.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{User: "system:anonymous", Groups: []string{"system:unauthenticated"},
			ResourceAttributes: k.access()}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("SubjectAccessReview: %w", err)
	}
	return nil
}

// access is what a client needs: get nodes/switchyard on this node.
func (k *KubeAuth) access() *authzv1.ResourceAttributes {
	return &authzv1.ResourceAttributes{Verb: RemoteVerb, Resource: RemoteResource, Subresource: RemoteSubresource, Name: k.Node}
}

// review asks the API server who the token is and whether they may read this node's agent.
func (k *KubeAuth) review(ctx context.Context, token string) (string, error) {
	tr, err := k.Client.AuthenticationV1().TokenReviews().Create(ctx,
		&authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenReview: %w", err)
	}
	if !tr.Status.Authenticated {
		why := tr.Status.Error
		if why == "" {
			why = "unknown token"
		}
		return "", &AuthError{Status: http.StatusUnauthorized, Msg: "the Kubernetes API did not authenticate the token: " + why}
	}
	u := tr.Status.User
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range u.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar, err := k.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{User: u.Username, Groups: u.Groups, UID: u.UID, Extra: extra,
			ResourceAttributes: k.access()}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("SubjectAccessReview: %w", err)
	}
	if !sar.Status.Allowed {
		return "", &AuthError{Status: http.StatusForbidden, Msg: fmt.Sprintf("user %q may not %s %s/%s %s (grant it with the ClusterRole switchyard-debugger)",
			u.Username, RemoteVerb, RemoteResource, RemoteSubresource, k.Node)}
	}
	return u.Username, nil
}

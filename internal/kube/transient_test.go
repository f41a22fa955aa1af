package kube

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestTransient: what a wait may ride out (the API server restarting,
// throttling, a 5xx) and what it may not (a context's end, a kind the API
// server does not serve, a 4xx).
func TestTransient(t *testing.T) {
	gr := schema.GroupResource{Group: "kustomize.toolkit.fluxcd.io", Resource: "kustomizations"}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("Get \"https://127.0.0.1:6443/apis\": dial tcp: %w", syscall.ECONNREFUSED), true},
		{"throttled", apierrors.NewTooManyRequests("slow down", 1), true},
		{"server error", apierrors.NewInternalError(errors.New("etcd leader changed")), true},
		{"not found", apierrors.NewNotFound(gr, "apps"), false},
		{"forbidden", apierrors.NewForbidden(gr, "apps", errors.New("RBAC")), false},
		{"not implemented", apierrors.NewGenericServerResponse(501, "get", gr, "apps", "", 0, false), false},
		{"cancelled", fmt.Errorf("list: %w", context.Canceled), false},
		{"deadline", fmt.Errorf("list: %w", context.DeadlineExceeded), false},
		{"kind not served", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: gr.Group, Kind: "Kustomization"}}, false},
	} {
		if got := Transient(c.err); got != c.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

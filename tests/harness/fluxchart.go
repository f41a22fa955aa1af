package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"
)

// Flux chart coordinates: the upstream fluxcd-community chart's name and
// the versions matching the pinned controllers.
const (
	FluxChartName       = "flux2"
	FluxChartVersion    = "2.17.0"
	FluxChartAppVersion = "2.7.0"

	sourceControllerModule    = "github.com/fluxcd/source-controller"
	sourceControllerVersion   = "v1.7.0"
	kustomizeControllerModule = "github.com/fluxcd/kustomize-controller"
	kustomizeControllerVer    = "v1.7.3"
)

// moduleDir returns the module-cache directory of mod@version, downloading
// it through the tools module (whose go.sum pins it) if needed.
func moduleDir(ctx context.Context, mod, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod+"@"+version)
	cmd.Dir = filepath.Join(ToolsDir(), "flux")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &ProcessError{Name: "go mod download", Command: strings.Join(cmd.Args, " "), LogTail: stderr.String() + string(out), Err: err}
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("parsing go mod download output: %w", err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", mod, version, info.Error)
	}
	return info.Dir, nil
}

// FluxCRDs returns the CRD manifests shipped in the pinned controller
// modules (config/crd/bases), and the HelmRelease CRD generated from the
// helm-controller API (see helmcrd.go), keyed by file name.
func FluxCRDs(ctx context.Context) (map[string][]byte, error) {
	crds := map[string][]byte{}
	for _, m := range [][2]string{{sourceControllerModule, sourceControllerVersion}, {kustomizeControllerModule, kustomizeControllerVer}} {
		dir, err := moduleDir(ctx, m[0], m[1])
		if err != nil {
			return nil, err
		}
		files, err := filepath.Glob(filepath.Join(dir, "config", "crd", "bases", "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no CRDs in %s/config/crd/bases", dir)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			crds[filepath.Base(f)] = b
		}
	}
	hr, err := HelmReleaseCRD(ctx)
	if err != nil {
		return nil, err
	}
	crds[HelmReleaseCRDFile] = hr
	return crds, nil
}

// BuildFluxChart builds the "flux2" chart (2.17.0, appVersion 2.7.0) that
// mirrors the upstream fluxcd-community chart for the two controllers the
// harness runs: CRDs from the controllers' modules, ServiceAccounts, the
// upstream RBAC (crd-controller ClusterRole/Binding, cluster-reconciler
// binding to cluster-admin), Services and Deployments. kwok fakes the pods;
// the Flux supervisor (StartFlux) runs the real binaries.
func BuildFluxChart(t testing.TB) *chart.Chart {
	t.Helper()
	ch, err := NewFluxChart(context.Background())
	if err != nil {
		t.Fatalf("building flux2 chart: %v", err)
	}
	return ch
}

// NewFluxChart is BuildFluxChart without a testing.TB.
func NewFluxChart(ctx context.Context) (*chart.Chart, error) {
	crds, err := FluxCRDs(ctx)
	if err != nil {
		return nil, err
	}
	ch := &chart.Chart{
		Metadata: &chart.Metadata{
			APIVersion:  chart.APIVersionV2,
			Name:        FluxChartName,
			Version:     FluxChartVersion,
			AppVersion:  FluxChartAppVersion,
			Type:        "application",
			Description: "A Helm chart for flux2 (groundwork test build: source-controller and kustomize-controller; the HelmRelease CRD but no helm-controller)",
			KubeVersion: ">=1.26.0-0",
		},
	}
	values := map[string]any{}
	if err := yaml.Unmarshal([]byte(fluxValues), &values); err != nil {
		return nil, err
	}
	ch.Values = values
	ch.Raw = append(ch.Raw, &chart.File{Name: "values.yaml", Data: []byte(fluxValues)})
	names := make([]string, 0, len(crds))
	for n := range crds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ch.Files = append(ch.Files, &chart.File{Name: "crds/" + n, Data: crds[n]})
	}
	ch.Templates = []*chart.File{
		{Name: "templates/_helpers.tpl", Data: []byte(fluxHelpers)},
		{Name: "templates/rbac.yaml", Data: []byte(fluxRBAC)},
		{Name: "templates/source-controller.yaml", Data: []byte(fluxSourceController)},
		{Name: "templates/kustomize-controller.yaml", Data: []byte(fluxKustomizeController)},
	}
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	return ch, nil
}

const fluxValues = `# Values mirror a subset of the fluxcd-community flux2 chart.
installCRDs: true
clusterDomain: cluster.local
logLevel: info
watchAllNamespaces: true
rbac:
  create: true
  createAggregation: true
sourceController:
  create: true
  image: ghcr.io/fluxcd/source-controller
  tag: v1.7.0
  serviceAccount:
    create: true
kustomizeController:
  create: true
  image: ghcr.io/fluxcd/kustomize-controller
  tag: v1.7.3
  serviceAccount:
    create: true
`

const fluxHelpers = `{{- define "flux2.labels" -}}
app.kubernetes.io/instance: {{ .Release.Namespace }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: flux
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
`

const fluxRBAC = `{{- if .Values.rbac.create }}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: crd-controller-{{ .Release.Namespace }}
  labels:
    app.kubernetes.io/component: rbac
    {{- include "flux2.labels" . | nindent 4 }}
rules:
- apiGroups: [source.toolkit.fluxcd.io]
  resources: ['*']
  verbs: ['*']
- apiGroups: [kustomize.toolkit.fluxcd.io]
  resources: ['*']
  verbs: ['*']
- apiGroups: [helm.toolkit.fluxcd.io]
  resources: ['*']
  verbs: ['*']
- apiGroups: [notification.toolkit.fluxcd.io]
  resources: ['*']
  verbs: ['*']
- apiGroups: [image.toolkit.fluxcd.io]
  resources: ['*']
  verbs: ['*']
- apiGroups: ['']
  resources: [namespaces, secrets, configmaps, serviceaccounts]
  verbs: [get, list, watch]
- apiGroups: ['']
  resources: [events]
  verbs: [create, patch]
- apiGroups: ['']
  resources: [configmaps]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: ['']
  resources: [configmaps/status]
  verbs: [get, update, patch]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: ['*']
- apiGroups: ['']
  resources: [serviceaccounts/token]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: crd-controller-{{ .Release.Namespace }}
  labels:
    app.kubernetes.io/component: rbac
    {{- include "flux2.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: crd-controller-{{ .Release.Namespace }}
subjects:
- kind: ServiceAccount
  name: kustomize-controller
  namespace: {{ .Release.Namespace }}
- kind: ServiceAccount
  name: source-controller
  namespace: {{ .Release.Namespace }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: cluster-reconciler-{{ .Release.Namespace }}
  labels:
    app.kubernetes.io/component: rbac
    {{- include "flux2.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: kustomize-controller
  namespace: {{ .Release.Namespace }}
{{- end }}
{{- if .Values.rbac.createAggregation }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: flux-edit-{{ .Release.Namespace }}
  labels:
    rbac.authorization.k8s.io/aggregate-to-admin: "true"
    rbac.authorization.k8s.io/aggregate-to-edit: "true"
    {{- include "flux2.labels" . | nindent 4 }}
rules:
- apiGroups: [source.toolkit.fluxcd.io, kustomize.toolkit.fluxcd.io]
  resources: ['*']
  verbs: [create, delete, deletecollection, patch, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: flux-view-{{ .Release.Namespace }}
  labels:
    rbac.authorization.k8s.io/aggregate-to-admin: "true"
    rbac.authorization.k8s.io/aggregate-to-edit: "true"
    rbac.authorization.k8s.io/aggregate-to-view: "true"
    {{- include "flux2.labels" . | nindent 4 }}
rules:
- apiGroups: [source.toolkit.fluxcd.io, kustomize.toolkit.fluxcd.io]
  resources: ['*']
  verbs: [get, list, watch]
{{- end }}
`

const fluxSourceController = `{{- if .Values.sourceController.create }}
{{- if .Values.sourceController.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: source-controller
  labels:
    app.kubernetes.io/component: source-controller
    {{- include "flux2.labels" . | nindent 4 }}
---
{{- end }}
apiVersion: v1
kind: Service
metadata:
  name: source-controller
  labels:
    app.kubernetes.io/component: source-controller
    control-plane: controller
    {{- include "flux2.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    app: source-controller
  ports:
  - name: http
    port: 80
    protocol: TCP
    targetPort: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: source-controller
  labels:
    app.kubernetes.io/component: source-controller
    control-plane: controller
    {{- include "flux2.labels" . | nindent 4 }}
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app: source-controller
  template:
    metadata:
      labels:
        app: source-controller
        {{- include "flux2.labels" . | nindent 8 }}
      annotations:
        prometheus.io/port: "8080"
        prometheus.io/scrape: "true"
    spec:
      serviceAccountName: source-controller
      terminationGracePeriodSeconds: 10
      containers:
      - name: manager
        image: {{ .Values.sourceController.image }}:{{ .Values.sourceController.tag }}
        imagePullPolicy: IfNotPresent
        args:
        - --events-addr=http://notification-controller.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}./
        - --watch-all-namespaces={{ .Values.watchAllNamespaces }}
        - --log-level={{ .Values.logLevel }}
        - --log-encoding=json
        - --enable-leader-election
        - --storage-path=/data
        - --storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.{{ .Values.clusterDomain }}.
        env:
        - name: RUNTIME_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        ports:
        - containerPort: 9090
          name: http
          protocol: TCP
        - containerPort: 8080
          name: http-prom
          protocol: TCP
        - containerPort: 9440
          name: healthz
          protocol: TCP
        readinessProbe:
          httpGet:
            path: /
            port: http
        livenessProbe:
          httpGet:
            path: /healthz
            port: healthz
        resources:
          limits:
            cpu: 1000m
            memory: 1Gi
          requests:
            cpu: 50m
            memory: 64Mi
        volumeMounts:
        - name: data
          mountPath: /data
        - name: tmp
          mountPath: /tmp
      volumes:
      - name: data
        emptyDir: {}
      - name: tmp
        emptyDir: {}
{{- end }}
`

const fluxKustomizeController = `{{- if .Values.kustomizeController.create }}
{{- if .Values.kustomizeController.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: kustomize-controller
  labels:
    app.kubernetes.io/component: kustomize-controller
    {{- include "flux2.labels" . | nindent 4 }}
---
{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kustomize-controller
  labels:
    app.kubernetes.io/component: kustomize-controller
    control-plane: controller
    {{- include "flux2.labels" . | nindent 4 }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: kustomize-controller
  template:
    metadata:
      labels:
        app: kustomize-controller
        {{- include "flux2.labels" . | nindent 8 }}
      annotations:
        prometheus.io/port: "8080"
        prometheus.io/scrape: "true"
    spec:
      serviceAccountName: kustomize-controller
      terminationGracePeriodSeconds: 60
      containers:
      - name: manager
        image: {{ .Values.kustomizeController.image }}:{{ .Values.kustomizeController.tag }}
        imagePullPolicy: IfNotPresent
        args:
        - --events-addr=http://notification-controller.{{ .Release.Namespace }}.svc.{{ .Values.clusterDomain }}./
        - --watch-all-namespaces={{ .Values.watchAllNamespaces }}
        - --log-level={{ .Values.logLevel }}
        - --log-encoding=json
        - --enable-leader-election
        env:
        - name: RUNTIME_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        ports:
        - containerPort: 8080
          name: http-prom
        - containerPort: 9440
          name: healthz
          protocol: TCP
        readinessProbe:
          httpGet:
            path: /readyz
            port: healthz
        livenessProbe:
          httpGet:
            path: /healthz
            port: healthz
        resources:
          limits:
            cpu: 1000m
            memory: 1Gi
          requests:
            cpu: 100m
            memory: 64Mi
        volumeMounts:
        - name: temp
          mountPath: /tmp
      volumes:
      - name: temp
        emptyDir: {}
{{- end }}
`

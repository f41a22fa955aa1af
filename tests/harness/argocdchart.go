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

// Argo CD chart coordinates: the upstream argo-helm chart's name, and the
// version of Argo CD the harness builds (tests/tools/argocd).
const (
	ArgoCDChartName       = "argo-cd"
	ArgoCDChartVersion    = "9.1.0"
	ArgoCDChartAppVersion = "v3.2.11"

	argoCDModule  = "github.com/argoproj/argo-cd/v3"
	argoCDVersion = "v3.2.11"
)

// ArgoCDNamespace is the namespace the argo-cd chart is installed into.
const ArgoCDNamespace = "argocd"

// argoCDModuleDir returns the module-cache directory of Argo CD, downloading
// it through the argocd tools module (whose go.sum pins it) if needed.
func argoCDModuleDir(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", argoCDModule+"@"+argoCDVersion)
	cmd.Dir = filepath.Join(ToolsDir(), "argocd")
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
		return "", fmt.Errorf("go mod download %s@%s: %s", argoCDModule, argoCDVersion, info.Error)
	}
	return info.Dir, nil
}

// ArgoCDCRDs returns the CRD manifests shipped in the Argo CD module
// (manifests/crds), keyed by file name.
func ArgoCDCRDs(ctx context.Context) (map[string][]byte, error) {
	dir, err := argoCDModuleDir(ctx)
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "manifests", "crds", "*-crd.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s/manifests/crds", dir)
	}
	crds := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		crds[filepath.Base(f)] = b
	}
	return crds, nil
}

// BuildArgoCDChart builds the "argo-cd" chart (9.1.0, appVersion v3.2.11)
// that mirrors the upstream argo-helm chart for the components the harness
// runs: the CRDs from the Argo CD module, the settings ConfigMaps and Secret,
// ServiceAccounts, the upstream RBAC and Deployments for the application
// controller, the repo-server, the ApplicationSet controller and Redis. kwok
// fakes the pods; the host kubelet (StartKubelet) runs the real
// programs. There is no argocd-server (no UI or API in tests).
func BuildArgoCDChart(t testing.TB) *chart.Chart {
	t.Helper()
	ch, err := NewArgoCDChart(context.Background())
	if err != nil {
		t.Fatalf("building argo-cd chart: %v", err)
	}
	return ch
}

// NewArgoCDChart is BuildArgoCDChart without a testing.TB.
func NewArgoCDChart(ctx context.Context) (*chart.Chart, error) {
	crds, err := ArgoCDCRDs(ctx)
	if err != nil {
		return nil, err
	}
	ch := &chart.Chart{
		Metadata: &chart.Metadata{
			APIVersion:  chart.APIVersionV2,
			Name:        ArgoCDChartName,
			Version:     ArgoCDChartVersion,
			AppVersion:  ArgoCDChartAppVersion,
			Type:        "application",
			Description: "A Helm chart for Argo CD (groundwork test build: application controller, repo-server, ApplicationSet controller and Redis; no argocd-server)",
			KubeVersion: ">=1.25.0-0",
		},
	}
	values := map[string]any{}
	if err := yaml.Unmarshal([]byte(argoCDValues), &values); err != nil {
		return nil, err
	}
	ch.Values = values
	ch.Raw = append(ch.Raw, &chart.File{Name: "values.yaml", Data: []byte(argoCDValues)})
	names := make([]string, 0, len(crds))
	for n := range crds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ch.Files = append(ch.Files, &chart.File{Name: "crds/" + n, Data: crds[n]})
	}
	ch.Templates = []*chart.File{
		{Name: "templates/_helpers.tpl", Data: []byte(argoCDHelpers)},
		{Name: "templates/config.yaml", Data: []byte(argoCDConfig)},
		{Name: "templates/application-controller.yaml", Data: []byte(argoCDController)},
		{Name: "templates/repo-server.yaml", Data: []byte(argoCDRepoServer)},
		{Name: "templates/applicationset-controller.yaml", Data: []byte(argoCDAppSetController)},
		{Name: "templates/redis.yaml", Data: []byte(argoCDRedis)},
	}
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	return ch, nil
}

// The reconciliation timeout is short so that tests see commits without
// waiting the upstream three minutes; everything else is the upstream default.
const argoCDValues = `# Values mirror a subset of the argo-helm argo-cd chart.
global:
  image:
    repository: quay.io/argoproj/argocd
    tag: v3.2.11
configs:
  cm:
    timeout.reconciliation: 15s
    timeout.reconciliation.jitter: 0s
  params:
    controller.status.processors: 10
    controller.operation.processors: 5
controller:
  replicas: 1
repoServer:
  replicas: 1
applicationSet:
  replicas: 1
redis:
  enabled: true
  image: public.ecr.aws/docker/library/redis:7.2.8-alpine
`

const argoCDHelpers = `{{- define "argo-cd.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: argocd
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "argo-cd.image" -}}
{{ .Values.global.image.repository }}:{{ .Values.global.image.tag }}
{{- end -}}
`

const argoCDConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/component: server
    {{- include "argo-cd.labels" . | nindent 4 }}
data:
  {{- toYaml .Values.configs.cm | nindent 2 }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cmd-params-cm
  labels:
    app.kubernetes.io/name: argocd-cmd-params-cm
    app.kubernetes.io/component: server
    {{- include "argo-cd.labels" . | nindent 4 }}
data:
  {{- range $k, $v := .Values.configs.params }}
  {{ $k }}: {{ $v | toString | quote }}
  {{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-rbac-cm
  labels:
    app.kubernetes.io/name: argocd-rbac-cm
    app.kubernetes.io/component: server
    {{- include "argo-cd.labels" . | nindent 4 }}
---
apiVersion: v1
kind: Secret
metadata:
  name: argocd-secret
  labels:
    app.kubernetes.io/name: argocd-secret
    app.kubernetes.io/component: server
    {{- include "argo-cd.labels" . | nindent 4 }}
type: Opaque
{{- /* argocd-server generates server.secretkey at startup; without a
       server the programs refuse settings that lack it. Deterministic, so
       that Argo CD managing this chart finds it in sync. */}}
data:
  server.secretkey: {{ printf "%s/%s" .Release.Namespace .Release.Name | sha256sum | b64enc }}
`

const argoCDController = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: argocd-application-controller
  labels:
    app.kubernetes.io/name: argocd-application-controller
    app.kubernetes.io/component: application-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: argocd-application-controller
  labels:
    app.kubernetes.io/component: application-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
rules:
- apiGroups: ['']
  resources: [secrets, configmaps]
  verbs: [get, list, watch]
- apiGroups: [argoproj.io]
  resources: [applications, applicationsets, appprojects]
  verbs: [create, get, list, watch, update, patch, delete]
- apiGroups: ['']
  resources: [events]
  verbs: [create, list]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: argocd-application-controller
  labels:
    app.kubernetes.io/component: application-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: argocd-application-controller
subjects:
- kind: ServiceAccount
  name: argocd-application-controller
  namespace: {{ .Release.Namespace }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Release.Name }}-application-controller
  labels:
    app.kubernetes.io/component: application-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
rules:
- apiGroups: ['*']
  resources: ['*']
  verbs: ['*']
- nonResourceURLs: ['*']
  verbs: ['*']
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ .Release.Name }}-application-controller
  labels:
    app.kubernetes.io/component: application-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ .Release.Name }}-application-controller
subjects:
- kind: ServiceAccount
  name: argocd-application-controller
  namespace: {{ .Release.Namespace }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-application-controller
  labels:
    app.kubernetes.io/name: argocd-application-controller
    app.kubernetes.io/component: application-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.controller.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-application-controller
  template:
    metadata:
      labels:
        app.kubernetes.io/name: argocd-application-controller
        {{- include "argo-cd.labels" . | nindent 8 }}
    spec:
      serviceAccountName: argocd-application-controller
      containers:
      - name: application-controller
        image: {{ include "argo-cd.image" . }}
        imagePullPolicy: IfNotPresent
        args:
        - /usr/local/bin/argocd-application-controller
        - --metrics-port=8082
        - --repo-server=argocd-repo-server:8081
        - --redis=argocd-redis:6379
        - --status-processors={{ index .Values.configs.params "controller.status.processors" }}
        - --operation-processors={{ index .Values.configs.params "controller.operation.processors" }}
        - --app-resync={{ trimSuffix "s" (index .Values.configs.cm "timeout.reconciliation") }}
        - --app-resync-jitter={{ trimSuffix "s" (index .Values.configs.cm "timeout.reconciliation.jitter") }}
        - --loglevel=info
        - --logformat=text
        ports:
        - name: metrics
          containerPort: 8082
        readinessProbe:
          httpGet:
            path: /healthz
            port: 8082
---
apiVersion: v1
kind: Service
metadata:
  name: argocd-application-controller-metrics
  labels:
    app.kubernetes.io/name: argocd-application-controller-metrics
    app.kubernetes.io/component: application-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
spec:
  ports:
  - name: http-metrics
    port: 8082
    targetPort: 8082
  selector:
    app.kubernetes.io/name: argocd-application-controller
`

const argoCDRepoServer = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: argocd-repo-server
  labels:
    app.kubernetes.io/name: argocd-repo-server
    app.kubernetes.io/component: repo-server
    {{- include "argo-cd.labels" . | nindent 4 }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
  labels:
    app.kubernetes.io/name: argocd-repo-server
    app.kubernetes.io/component: repo-server
    {{- include "argo-cd.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.repoServer.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-repo-server
  template:
    metadata:
      labels:
        app.kubernetes.io/name: argocd-repo-server
        {{- include "argo-cd.labels" . | nindent 8 }}
    spec:
      serviceAccountName: argocd-repo-server
      automountServiceAccountToken: false
      containers:
      - name: repo-server
        image: {{ include "argo-cd.image" . }}
        imagePullPolicy: IfNotPresent
        args:
        - /usr/local/bin/argocd-repo-server
        - --port=8081
        - --metrics-port=8084
        - --redis=argocd-redis:6379
        # upstream: ARGOCD_RECONCILIATION_TIMEOUT from argocd-cm
        - --revision-cache-expiration={{ index .Values.configs.cm "timeout.reconciliation" }}
        - --loglevel=info
        - --logformat=text
        ports:
        - name: repo-server
          containerPort: 8081
        - name: metrics
          containerPort: 8084
        readinessProbe:
          httpGet:
            path: /healthz
            port: metrics
        volumeMounts:
        - name: tmp
          mountPath: /tmp
      volumes:
      - name: tmp
        emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: argocd-repo-server
  labels:
    app.kubernetes.io/name: argocd-repo-server
    app.kubernetes.io/component: repo-server
    {{- include "argo-cd.labels" . | nindent 4 }}
spec:
  ports:
  - name: tcp-repo-server
    port: 8081
    targetPort: repo-server
  selector:
    app.kubernetes.io/name: argocd-repo-server
`

const argoCDAppSetController = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: argocd-applicationset-controller
  labels:
    app.kubernetes.io/name: argocd-applicationset-controller
    app.kubernetes.io/component: applicationset-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: argocd-applicationset-controller
  labels:
    app.kubernetes.io/component: applicationset-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
rules:
- apiGroups: [argoproj.io]
  resources: [applications, applicationsets, applicationsets/finalizers]
  verbs: [create, delete, get, list, patch, update, watch]
- apiGroups: [argoproj.io]
  resources: [applicationsets/status]
  verbs: [get, patch, update]
- apiGroups: [argoproj.io]
  resources: [appprojects]
  verbs: [get, list, watch]
- apiGroups: ['']
  resources: [events]
  verbs: [create, get, list, patch, watch]
- apiGroups: ['']
  resources: [configmaps]
  verbs: [create, update, delete, get, list, patch, watch]
- apiGroups: ['']
  resources: [secrets]
  verbs: [get, list, watch]
- apiGroups: [apps, extensions]
  resources: [deployments]
  verbs: [get, list, watch]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create, delete, get, list, patch, update, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: argocd-applicationset-controller
  labels:
    app.kubernetes.io/component: applicationset-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: argocd-applicationset-controller
subjects:
- kind: ServiceAccount
  name: argocd-applicationset-controller
  namespace: {{ .Release.Namespace }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-applicationset-controller
  labels:
    app.kubernetes.io/name: argocd-applicationset-controller
    app.kubernetes.io/component: applicationset-controller
    {{- include "argo-cd.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.applicationSet.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-applicationset-controller
  template:
    metadata:
      labels:
        app.kubernetes.io/name: argocd-applicationset-controller
        {{- include "argo-cd.labels" . | nindent 8 }}
    spec:
      serviceAccountName: argocd-applicationset-controller
      containers:
      - name: applicationset-controller
        image: {{ include "argo-cd.image" . }}
        imagePullPolicy: IfNotPresent
        args:
        - /usr/local/bin/argocd-applicationset-controller
        - --metrics-addr=:8080
        - --probe-addr=:8081
        - --webhook-addr=:7000
        - --argocd-repo-server=argocd-repo-server:8081
        - --enable-leader-election=false
        - --loglevel=info
        - --logformat=text
        ports:
        - name: metrics
          containerPort: 8080
        - name: probe
          containerPort: 8081
        - name: webhook
          containerPort: 7000
        readinessProbe:
          tcpSocket:
            port: probe
`

const argoCDRedis = `{{- if .Values.redis.enabled }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: argocd-redis
  labels:
    app.kubernetes.io/name: argocd-redis
    app.kubernetes.io/component: redis
    {{- include "argo-cd.labels" . | nindent 4 }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-redis
  labels:
    app.kubernetes.io/name: argocd-redis
    app.kubernetes.io/component: redis
    {{- include "argo-cd.labels" . | nindent 4 }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-redis
  template:
    metadata:
      labels:
        app.kubernetes.io/name: argocd-redis
        {{- include "argo-cd.labels" . | nindent 8 }}
    spec:
      serviceAccountName: argocd-redis
      automountServiceAccountToken: false
      containers:
      - name: redis
        image: {{ .Values.redis.image }}
        imagePullPolicy: IfNotPresent
        args:
        - --save
        - ""
        - --appendonly
        - "no"
        ports:
        - name: redis
          containerPort: 6379
---
apiVersion: v1
kind: Service
metadata:
  name: argocd-redis
  labels:
    app.kubernetes.io/name: argocd-redis
    app.kubernetes.io/component: redis
    {{- include "argo-cd.labels" . | nindent 4 }}
spec:
  ports:
  - name: tcp-redis
    port: 6379
    targetPort: redis
  selector:
    app.kubernetes.io/name: argocd-redis
{{- end }}
`

package gc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/go-version"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/groundwork-dev/groundwork/internal/actions"
	"github.com/groundwork-dev/groundwork/internal/cluster/remote"
	"github.com/groundwork-dev/groundwork/internal/facts"
	"github.com/groundwork-dev/groundwork/internal/gitrepo"
	"github.com/groundwork-dev/groundwork/internal/plan"
	"github.com/groundwork-dev/groundwork/internal/spec"
	"github.com/groundwork-dev/groundwork/internal/terraform"
	"github.com/groundwork-dev/groundwork/tests/harness"
)

type noInstall struct{}

func (noInstall) Install(context.Context, *version.Version, string) (string, error) {
	return "", errors.New("tests do not download terraform")
}

// fakeEKS stands in for the EKS API (REST JSON), which tests cannot reach:
// GET /clusters and GET /clusters/{name}, with the clusters' tags.
func fakeEKS(t *testing.T, tags map[string]map[string]string) remote.EKSAPI {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/clusters" {
			var names []string
			for n := range tags {
				names = append(names, n)
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"clusters": names})
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/clusters/")
		tg, ok := tags[name]
		if !ok {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No cluster found"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"cluster": map[string]any{"name": name, "status": "ACTIVE", "tags": tg}})
	}))
	t.Cleanup(ts.Close)
	return eks.New(eks.Options{Region: "eu-west-1", BaseEndpoint: aws.String(ts.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
}

const envFile = `environment "ci" {
  cluster "eks" { region = "eu-west-1" }
  state "s3" {
    bucket                      = "acme-state"
    key                         = "ci.tfstate"
    region                      = "eu-west-1"
    use_path_style              = "true"
    use_lockfile                = "true"
    skip_credentials_validation = "true"
    skip_requesting_account_id  = "true"
    skip_region_validation      = "true"
    skip_metadata_api_check     = "true"
    skip_s3_checksum            = "true"
  }
  gitops {
    repository { url = "REPO" }
  }
  ephemeral { ttl = "1h" }
}
`

// TestExpiredEKSInstanceByTags: a CI runner made instance ci-run1 (its
// Terraform state in S3) and is gone with its state directory. gc finds
// the cluster by its tags (a local EKS API), destroys it through Terraform
// from a fresh state directory (the real terraform, the s3 backend on
// gofakes3, the fake module standing in for modules/eks) and removes its
// folder from the repository.
func TestExpiredEKSInstanceByTags(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	for _, bin := range []string{"terraform", "git"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skip(bin + " is not on PATH")
		}
	}
	ctx := context.Background()
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer s3srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ENDPOINT_URL_S3", s3srv.URL) // read by Terraform's s3 backend and aws-sdk-go-v2
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s3c, err := terraform.NewS3Client(ctx, terraform.S3ClientOptions{Region: "eu-west-1", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	// (EnsureS3Bucket is tested in package terraform; gofakes3 alone lacks
	// the public access block it sets.)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acme-state")}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	repo := filepath.Join(dir, "fleet.git")
	if out, err := exec.Command("git", "init", "--bare", "-b", "main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	git := &gitrepo.Client{URL: "file://" + repo, Branch: "main"}
	git.Author.Name, git.Author.Email = "test", "test@example.test"
	if _, err := git.Apply(ctx, gitrepo.Change{Root: "clusters/ci-run1", Message: "seed",
		Files: []gitrepo.File{{Path: "clusters/ci-run1/apps/README.md", Data: []byte("apps\n")}}}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ci.hcl")
	if err := os.WriteFile(file, []byte(strings.Replace(envFile, "REPO", "file://"+repo, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func() *spec.Environment {
		res := spec.Load(file, spec.Options{Home: dir, ConfigDir: dir})
		if res.Diags.HasErrors() {
			t.Fatal(res.Diags)
		}
		return res.Env
	}

	// The runner's up of instance ci-run1, expired at 10:00.
	module := os.DirFS(filepath.Join("..", "cluster", "remote", "testdata", "fake-eks"))
	find := terraform.FindOptions{CacheDir: t.TempDir(), Installer: noInstall{}}
	expires := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	inst := load()
	if err := inst.Instance("run1"); err != nil {
		t.Fatal(err)
	}
	d, err := remote.Prepare(ctx, inst, remote.PrepareOptions{StateDir: filepath.Join(t.TempDir(), "runner"), Expires: expires, Module: module, Find: find})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := d.Output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := remote.DecodeOutputs(spec.ProviderEKS, raw)
	if err != nil {
		t.Fatal(err)
	}
	stateKey := "env:/ci-run1/ci.tfstate" // the instance's workspace
	if !stateHolds(t, s3c, stateKey, "terraform_data") {
		t.Fatal("the instance's state is not in the bucket")
	}

	// EKS answers with the tags the module put on the cluster, and another
	// instance that has not expired.
	api := fakeEKS(t, map[string]map[string]string{
		"ci-run1": out.Tags,
		"ci-run2": {remote.TagEnvironment: "ci-run2", remote.TagManagedBy: "groundwork", remote.TagExpires: fmt.Sprint(expires.Add(4 * time.Hour).Unix())},
	})
	now := func() time.Time { return expires.Add(time.Hour) }
	var logged []string
	o := Options{Envs: []Root{{Env: load(), StateRoot: filepath.Join(dir, ".groundwork")}}, Now: now, DryRun: true,
		EKS:       func(context.Context, string) (remote.EKSAPI, error) { return api, nil },
		Terraform: find, Module: module,
		Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }}
	got := Run(ctx, o)
	if len(got) != 1 || got[0].Name != "ci-run1" || got[0].Action != "would delete" || !got[0].Expires.Equal(expires) {
		t.Fatalf("dry run: %+v", got)
	}
	o.DryRun = false
	got = Run(ctx, o)
	if len(got) != 1 || got[0].Action != "deleted" {
		t.Fatalf("gc: %+v\n%s", got, strings.Join(logged, "\n"))
	}
	if stateHolds(t, s3c, stateKey, "terraform_data") {
		t.Error("the instance's state still holds resources after gc")
	}
	snap, err := git.Read(ctx, "clusters/ci-run1")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Files) != 0 {
		t.Errorf("the instance's folder is still in the repository: %v", snap.Files)
	}
}

func stateHolds(t *testing.T, c *s3.Client, key, what string) bool {
	t.Helper()
	obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("acme-state"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("state object %s: %v", key, err)
	}
	defer obj.Body.Close()
	b, _ := io.ReadAll(obj.Body)
	return strings.Contains(string(b), what)
}

// TestExpiredEKSInstanceWithLocalState: without a state block the state
// died with the runner; gc keeps the cluster and says what to do.
func TestExpiredEKSInstanceWithLocalState(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ci.hcl")
	src := `environment "ci" {
  cluster "eks" { region = "eu-west-1" }
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  ephemeral { ttl = "1h" }
}`
	res := loadEnv(t, file, src)
	api := fakeEKS(t, map[string]map[string]string{
		"ci-abc": {remote.TagEnvironment: "ci-abc", remote.TagManagedBy: "groundwork", remote.TagExpires: "1767261600"},
	})
	got := Run(context.Background(), Options{Envs: []Root{{Env: res.Env, StateRoot: dir}},
		Now: func() time.Time { return time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC) },
		EKS: func(context.Context, string) (remote.EKSAPI, error) { return api, nil }})
	if len(got) != 1 || !strings.HasPrefix(got[0].Action, "kept: found by its tags") || !strings.Contains(got[0].Action, "state block") {
		t.Fatalf("gc: %+v", got)
	}
}

// TestInstanceWhoseUpFailedMidway: up records an ephemeral instance, with
// its expiry, before its cluster step; an instance whose up failed before
// its expiry step (here, before a kind cluster was made) has a cluster that
// records nothing, yet gc keeps it until its expiry and then deletes it
// (it counted only instances whose expiry step had run, and kept the rest
// for ever as unreachable).
func TestInstanceWhoseUpFailedMidway(t *testing.T) {
	// No container runtime, wherever the test runs: git only (file://
	// repositories are read through it).
	gitBin, lerr := exec.LookPath("git")
	if lerr != nil {
		t.Skip("git is not on PATH")
	}
	bin := t.TempDir()
	if err := os.Symlink(gitBin, filepath.Join(bin, "git")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	dir := t.TempDir()
	repo := filepath.Join(dir, "fleet.git")
	if out, err := exec.Command("git", "init", "--bare", "-b", "main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	git := &gitrepo.Client{URL: "file://" + repo, Branch: "main"}
	git.Author.Name, git.Author.Email = "test", "test@example.test"
	if _, err := git.Apply(context.Background(), gitrepo.Change{Root: "other", Message: "another environment",
		Files: []gitrepo.File{{Path: "other/README.md", Data: []byte("other\n")}}}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ci.hcl")
	src := `environment "ci" {
  cluster "kind" {}
  gitops {
    repository { url = "file://` + repo + `" }
  }
  ephemeral { ttl = "1h" }
}`
	res := loadEnv(t, file, src)
	expires := time.Date(2026, 1, 2, 1, 0, 0, 0, time.UTC)
	state := recordInstance(t, filepath.Join(dir, "ci-abc"), expires, nil,
		map[string]actions.StepRecord{plan.StepCluster: {State: actions.StateFailed, Error: "kind needs a running container runtime"}})
	gc := func(now time.Time) []Instance {
		return Run(context.Background(), Options{Envs: []Root{{Env: res.Env, StateRoot: dir}}, Now: func() time.Time { return now }})
	}
	got := gc(expires.Add(-time.Minute))
	if len(got) != 1 || got[0].Name != "ci-abc" || !got[0].Incomplete || got[0].Action != "kept: its up did not finish; expires 2026-01-02T01:00:00Z" {
		t.Fatalf("before its expiry: %+v", got)
	}
	// An up resuming it holds its lock: gc does not delete under it.
	lock, err := actions.AcquireLock(context.Background(), state, "pid 1, groundwork up", false)
	if err != nil {
		t.Fatal(err)
	}
	got = gc(expires)
	if len(got) != 1 || got[0].Action != "kept: a run holds its lock (pid 1, groundwork up)" {
		t.Fatalf("after its expiry, its lock held: %+v", got)
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	got = gc(expires)
	if len(got) != 1 || got[0].Action != "deleted" {
		t.Fatalf("after its expiry: %+v", got)
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("its state directory is left")
	}
}

// TestDrillLeftoversOnAGivenClusterAreKept: a drill killed before its
// removal leaves a state directory <env>-drill-<id> with an expiry. gc
// took it for an instance of the environment, on the environment's own
// (live) cluster, and would have uninstalled the live reconciler once it
// expired; an instance whose up failed on an existing cluster that cannot
// be reached is not deleted on the state directory's word either.
func TestDrillLeftoversOnAGivenClusterAreKept(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "prod.hcl")
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `environment "prod" {
  cluster "existing" { kubeconfig = "kubeconfig" }
  gitops {
    repository { url = "https://git.example/fleet.git" }
  }
  ephemeral { ttl = "1h" }
}`
	res := loadEnv(t, file, src)
	expires := time.Date(2026, 1, 2, 1, 0, 0, 0, time.UTC)
	drillDir := recordInstance(t, filepath.Join(dir, "prod-drill-1a2b3c"), expires, map[string]string{"drill": "prod-drill-1a2b3c"}, nil)
	// Its up got as far as the reconciler step on that cluster.
	failedDir := recordInstance(t, filepath.Join(dir, "prod-abc"), expires, nil,
		map[string]actions.StepRecord{plan.StepReconciler: {State: actions.StateFailed}})
	got := Run(context.Background(), Options{Envs: []Root{{Env: res.Env, StateRoot: dir}}, Now: func() time.Time { return expires.Add(time.Hour) }})
	if len(got) != 2 {
		t.Fatalf("gc: %+v", got)
	}
	for _, in := range got {
		if in.Action == "deleted" || in.Action == "delete failed" || !strings.HasPrefix(in.Action, "kept: ") {
			t.Errorf("%s: %s", in.Name, in.Action)
		}
	}
	if !strings.Contains(got[1].Action+got[0].Action, "a drill into a cluster it was given") {
		t.Errorf("the drill's leftovers are not explained: %+v", got)
	}
	for _, d := range []string{drillDir, failedDir} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed", d)
		}
	}
}

// TestInstanceWhoseUpFailedOnAnExistingCluster: an instance whose up failed
// before its expiry step, on an existing cluster that answers without a
// record, was kept for ever ("records no expiry"). An up that never reached
// its reconciler step (up's first change to an existing cluster) left
// nothing there: gc now deletes the instance once expired without touching
// the cluster (someone else's Flux stays). One that did reach it may have
// installed the reconciler or upgraded one that was there before, and the
// cluster does not tell which: gc keeps it and says how to remove it (it
// uninstalled that Flux, someone else's here, in an earlier version of
// this change). A real API server (the harness's), a bare repository
// without the branch (nothing was seeded).
func TestInstanceWhoseUpFailedOnAnExistingCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	cp := harness.StartControlPlane(t)
	ctx := context.Background()
	dir := t.TempDir()
	repo := filepath.Join(dir, "fleet.git")
	if out, err := exec.Command("git", "init", "--bare", "-b", "main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	src := `environment "ci" {
  cluster "existing" { kubeconfig = "` + cp.AdminKubeconfig() + `" }
  gitops {
    repository { url = "file://` + repo + `" }
  }
  ephemeral { ttl = "1h" }
}`
	res := loadEnv(t, filepath.Join(dir, "ci.hcl"), src)
	// Someone else's Flux, where the instance's would have been.
	name, ns := facts.ReconcilerRelease(res.Env)
	if _, err := cp.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sh.helm.release.v1." + name + ".v1",
		Labels: map[string]string{"owner": "helm", "name": name}}}
	if _, err := cp.Client().CoreV1().Secrets(ns).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2026, 1, 2, 1, 0, 0, 0, time.UTC)
	early := recordInstance(t, filepath.Join(dir, "ci-early"), expires, nil,
		map[string]actions.StepRecord{plan.StepKubeconfig: {State: actions.StateFailed}})
	late := recordInstance(t, filepath.Join(dir, "ci-late"), expires, nil,
		map[string]actions.StepRecord{plan.StepKubeconfig: {State: actions.StateDone}, plan.StepReconciler: {State: actions.StateRunning}})
	gc := func(now time.Time, dryRun bool) map[string]Instance {
		got := map[string]Instance{}
		for _, in := range Run(ctx, Options{Envs: []Root{{Env: res.Env, StateRoot: dir}}, Now: func() time.Time { return now }, DryRun: dryRun}) {
			got[in.Name] = in
		}
		return got
	}
	got := gc(expires.Add(-time.Minute), false)
	if in := got["ci-early"]; !in.Incomplete || in.Action != "kept: its up did not finish; expires 2026-01-02T01:00:00Z" {
		t.Errorf("ci-early before its expiry: %+v", in)
	}
	keptLate := func(in Instance) bool {
		return strings.HasPrefix(in.Action, "kept: its up did not finish on an existing cluster") &&
			strings.Contains(in.Action, "groundwork down FILE --name-suffix late --uninstall --purge-repo")
	}
	if in := got["ci-late"]; !keptLate(in) {
		t.Errorf("ci-late before its expiry: %+v", in)
	}
	if got := gc(expires, true); got["ci-early"].Action != "would delete" || !keptLate(got["ci-late"]) {
		t.Fatalf("after the expiry, dry run: %+v", got)
	}
	got = gc(expires, false)
	if in := got["ci-early"]; in.Action != "deleted (its up never changed the cluster, which was left alone)" {
		t.Fatalf("ci-early after its expiry: %+v", in)
	}
	if in := got["ci-late"]; !keptLate(in) {
		t.Fatalf("ci-late after its expiry: %+v", in)
	}
	if _, err := os.Stat(early); err == nil {
		t.Error("ci-early's state directory is left")
	}
	if _, err := os.Stat(late); err != nil {
		t.Errorf("ci-late's state directory is gone: %v", err)
	}
	if _, err := cp.Client().CoreV1().Secrets(ns).Get(ctx, theirs.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("gc touched the cluster: %v", err)
	}
}

// recordInstance writes the journal up leaves in an instance's state
// directory: the expiry it records before its cluster step (with outputs
// beside it, as a drill's), and the steps' records.
func recordInstance(t *testing.T, state string, expires time.Time, outputs map[string]string, steps map[string]actions.StepRecord) string {
	t.Helper()
	j, err := actions.OpenJournal(state)
	if err != nil {
		t.Fatal(err)
	}
	j.SetOutput(plan.StepExpiry, "expires", expires.Format(time.RFC3339))
	for k, v := range outputs {
		j.SetOutput(plan.StepExpiry, k, v)
	}
	for name, rec := range steps {
		j.Steps[name] = rec
	}
	if err := j.Save(); err != nil {
		t.Fatal(err)
	}
	return state
}

// loadEnv writes the environment file src at file and loads it.
func loadEnv(t *testing.T, file, src string) *spec.Result {
	t.Helper()
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(file)
	res := spec.Load(file, spec.Options{Home: dir, ConfigDir: dir})
	if res.Diags.HasErrors() {
		t.Fatal(res.Diags)
	}
	return res
}

// TestUntouchedInstanceLeavesTheClusterUnasked: an instance whose up never
// changed the existing cluster it was given goes without gc asking that
// cluster anything (an unreachable one held gc up to its timeout for
// nothing). The "cluster" is a server that counts what it is asked and
// never answers: it stands for a cluster that cannot be reached, and the
// test needs no other.
func TestUntouchedInstanceLeavesTheClusterUnasked(t *testing.T) {
	asked := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.Path
		<-r.Context().Done()
	}))
	defer srv.Close()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: " + srv.URL + "}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n"
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "fleet.git")
	if out, err := exec.Command("git", "init", "--bare", "-b", "main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	res := loadEnv(t, filepath.Join(dir, "ci.hcl"), `environment "ci" {
  cluster "existing" { kubeconfig = "`+kubeconfig+`" }
  gitops {
    repository { url = "file://`+repo+`" }
  }
  ephemeral { ttl = "1h" }
}`)
	expires := time.Date(2026, 1, 2, 1, 0, 0, 0, time.UTC)
	state := recordInstance(t, filepath.Join(dir, "ci-early"), expires, nil,
		map[string]actions.StepRecord{plan.StepKubeconfig: {State: actions.StateFailed}})
	got := Run(context.Background(), Options{Envs: []Root{{Env: res.Env, StateRoot: dir}}, Now: func() time.Time { return expires }})
	if len(got) != 1 || got[0].Action != "deleted (its up never changed the cluster, which was left alone)" {
		t.Fatalf("gc: %+v", got)
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("the instance's state directory is left")
	}
	select {
	case p := <-asked:
		t.Errorf("gc asked the cluster %s", p)
	default:
	}
}

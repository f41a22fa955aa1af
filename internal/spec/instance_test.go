package spec

import "testing"

func TestInstanceSuffix(t *testing.T) {
	cases := []struct {
		given   string
		environ []string
		random  bool
		want    string
		ok      bool
	}{
		{"PR 42", nil, false, "pr-42", true},
		{"", []string{"GITHUB_RUN_ID=123", "GITHUB_RUN_ATTEMPT=2"}, false, "123-2", true},
		{"", []string{"CI_PIPELINE_ID=77", "CI_JOB_ID=5"}, false, "77-5", true},
		{"", []string{"BUILD_ID=9"}, false, "9", true},
		{"", nil, false, "", false},
	}
	for _, c := range cases {
		got, ok := InstanceSuffix(c.given, c.environ, c.random)
		if got != c.want || ok != c.ok {
			t.Errorf("%q %v: %q %t, want %q %t", c.given, c.environ, got, ok, c.want, c.ok)
		}
	}
	if a, ok := InstanceSuffix("", nil, true); !ok || len(a) != 6 {
		t.Errorf("random suffix %q", a)
	}
}

func TestInstance(t *testing.T) {
	env := &Environment{Name: "ci", GitOps: GitOps{Repository: Repository{Path: "clusters/ci"}}}
	if err := env.Instance("x"); err == nil {
		t.Error("a non-ephemeral environment got an instance")
	}
	env.Ephemeral = &Ephemeral{}
	if err := env.Instance("123-1"); err != nil || env.Name != "ci-123-1" || env.GitOps.Repository.Path != "clusters/ci-123-1" || env.Ephemeral.Base != "ci" {
		t.Errorf("%v %+v", err, env)
	}
}

package gitops

import "testing"

func TestRedact(t *testing.T) {
	cases := map[string]string{
		`Post "https://hooks.slack.com/services/T0/B0/XyZ": dial tcp: i/o timeout`: `Post "https://hooks.slack.com/<redacted>": dial tcp: i/o timeout`,
		`POST http://user:pass@10.0.0.1:8080/hook?token=abc giving up`:             `POST http://10.0.0.1:8080/<redacted> giving up`,
		`no URL here`: `no URL here`,
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

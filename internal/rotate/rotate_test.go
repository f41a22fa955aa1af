package rotate

import (
	"strings"
	"testing"
)

// The rotation itself runs on the harness (tests/e2e, TestRebuildAfterWipe).
func TestSetRecipients(t *testing.T) {
	in := "# Managed by groundwork\\ncreation_rules:\n  - path_regex: .*\\.ya?ml$\n    encrypted_regex: ^(data|stringData)$\n    age: age1old\n"
	out, err := setRecipients([]byte(in), []string{"age1new", "age1old"})
	if err != nil || !strings.Contains(string(out), "\n    age: age1new,age1old\n") {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := setRecipients([]byte("creation_rules: []\n"), []string{"x"}); err == nil {
		t.Error("a .sops.yaml without age: line must be an error")
	}
}

// A re-encrypted file keeps the comments it starts with (the managed header
// of the notification Secrets groundwork keeps among the SOPS files).
func TestLeadingComments(t *testing.T) {
	cases := map[string]string{
		"# Managed by groundwork: x\n# more\napiVersion: v1\n# inner\n": "# Managed by groundwork: x\n# more\n",
		"apiVersion: v1\n# later\n":                                     "",
		"# only a comment without newline":                              "",
	}
	for in, want := range cases {
		if got := string(leadingComments([]byte(in))); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

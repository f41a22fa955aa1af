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

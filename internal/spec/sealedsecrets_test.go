package spec

import (
	"strings"
	"testing"
)

// A values entry that turns the controller's key renewal back on is an
// error on the entry itself, saying why and what to do instead; "0" and
// its equivalents say what groundwork sets anyway.
func TestKeyRenewPeriod(t *testing.T) {
	src := func(provider, values string) string {
		return `environment "dev" {
  cluster "kind" {}
  gitops {
    repository { url = "https://github.com/acme/fleet.git" }
  }
  secrets {
    provider = "` + provider + `"
    values = ` + values + `
  }
}`
	}
	for _, ok := range []string{`{ keyrenewperiod = "0" }`, `{ keyrenewperiod = 0 }`, `{ keyrenewperiod = "0s" }`, `{ fullnameOverride = "x" }`} {
		if res := Parse("dev.hcl", []byte(src("sealed-secrets", ok)), testOpts); res.Diags.HasErrors() {
			t.Errorf("%s: %s", ok, render(res))
		}
	}
	cases := []struct {
		values, shown string
		line, col     int
		endCol        int
	}{
		{`{ replicas = 1, keyrenewperiod = "720h" }`, `"720h"`, 8, 30, 53},
		{`{
      keyrenewperiod = 24
    }`, `24`, 9, 7, 26},
		{`{ "keyrenewperiod" = "" }`, `""`, 8, 16, 37},
		{`{ keyrenewperiod = null }`, `null`, 8, 16, 37},
		// Not an object written out: the whole attribute's value.
		{`merge({}, { keyrenewperiod = "1h" })`, `"1h"`, 8, 14, 50},
	}
	for _, c := range cases {
		res := Parse("dev.hcl", []byte(src("sealed-secrets", c.values)), testOpts)
		if len(res.Diags) != 1 || res.Env != nil {
			t.Fatalf("%s: want one error, got:\n%s", c.values, render(res))
		}
		d := res.Diags[0]
		r := d.Subject
		if d.Summary != "Automatic sealing key renewal" || r == nil || r.Filename != "dev.hcl" || r.Start.Line != c.line || r.Start.Column != c.col || r.End.Column != c.endCol {
			t.Errorf("%s: %q at %v, want line %d columns %d-%d", c.values, d.Summary, r, c.line, c.col, c.endCol)
		}
		for _, want := range []string{"keyrenewperiod = " + c.shown + " would make", "never reach groundwork's key store", "lost in a rebuild", "groundwork keys rotate"} {
			if !strings.Contains(d.Detail, want) {
				t.Errorf("%s: the detail does not say %q: %s", c.values, want, d.Detail)
			}
		}
	}
	// Values that replace the controller's flags, or make it create a key
	// at startup, are refused on the entry too.
	for _, c := range []struct{ values, name string }{
		{`{ args = ["--key-renew-period", "720h"] }`, "args"},
		{`{ command = ["controller"] }`, "command"},
		{`{ keycutofftime = "Mon, 02 Jan 2026 15:04:05 +0000" }`, "keycutofftime"},
	} {
		res := Parse("dev.hcl", []byte(src("sealed-secrets", c.values)), testOpts)
		if len(res.Diags) != 1 || res.Diags[0].Summary != "Sealed Secrets controller flags" || res.Diags[0].Subject == nil ||
			res.Diags[0].Subject.Start.Line != 8 || res.Diags[0].Subject.Start.Column != 16 || !strings.Contains(res.Diags[0].Detail, c.name+" in the values") {
			t.Errorf("%s: want one error on the entry, got:\n%s", c.values, render(res))
		}
	}
	if res := Parse("dev.hcl", []byte(src("sealed-secrets", `{ args = [] }`)), testOpts); res.Diags.HasErrors() {
		t.Errorf("empty args: %s", render(res))
	}
	// External Secrets has no such value: nothing to say.
	ext := strings.Replace(src("external-secrets", `{ keyrenewperiod = "720h" }`), "  }\n}", `    external_store "aws-secrets-manager" { region = "eu-west-1" }
  }
}`, 1)
	if res := Parse("dev.hcl", []byte(ext), testOpts); res.Diags.HasErrors() {
		t.Errorf("external-secrets: %s", render(res))
	}
}

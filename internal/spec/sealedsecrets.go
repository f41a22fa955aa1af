package spec

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// KeyRenewPeriodValue is the sealed-secrets chart's value for the
// controller's automatic key renewal (--key-renew-period).
const KeyRenewPeriodValue = "keyrenewperiod"

// checkKeyRenewPeriod refuses a values entry that turns the Sealed Secrets
// controller's automatic key renewal on: a key the controller makes on its
// own never reaches groundwork's key store, so what is sealed with it is
// lost in a rebuild. groundwork sets the value to "0"; "0" (or 0, or a
// zero duration) is accepted as saying the same.
func (d *decoder) checkKeyRenewPeriod(attr *hcl.Attribute, values map[string]any) {
	if attr == nil {
		return
	}
	// Values that replace or bypass the flags groundwork sets
	// (--key-renew-period 0, --watch-for-secrets): the chart's args and
	// command replace every flag it makes, and a key cut-off time makes the
	// controller create a key at startup.
	for _, name := range []string{"args", "command", "keycutofftime"} {
		if v, ok := values[name]; ok && v != nil && v != "" {
			if l, isList := v.([]any); isList && len(l) == 0 {
				continue
			}
			rng := d.valueRange(attr, name)
			d.errorf(&rng, "Sealed Secrets controller flags",
				"%s in the values of the sealed-secrets chart would replace or bypass the flags groundwork runs the controller with (its own key renewal off, watching its key Secrets so that keys rotate takes effect at once); a key the controller made on its own would never reach groundwork's key store, and what is sealed with it would be lost in a rebuild. Remove this entry; renew the key with `groundwork keys rotate`.", name)
		}
	}
	v, ok := values[KeyRenewPeriodValue]
	if !ok || zeroDuration(v) {
		return
	}
	rng := d.valueRange(attr, KeyRenewPeriodValue)
	shown, _ := json.Marshal(v)
	d.errorf(&rng, "Automatic sealing key renewal",
		"%s = %s would make the Sealed Secrets controller renew its sealing key on its own; the keys it makes never reach groundwork's key store, so the SealedSecrets sealed with them would be lost in a rebuild. groundwork keeps the controller's renewal off (%s = \"0\"): remove this entry, and renew the key with `groundwork keys rotate`, which keeps the new key and every old one in the key store.",
		KeyRenewPeriodValue, shown, KeyRenewPeriodValue)
}

// zeroDuration tells whether a value means "no renewal": the number 0 or a
// duration string of zero ("0", "0s", "0h0m").
func zeroDuration(v any) bool {
	switch v := v.(type) {
	case float64:
		return v == 0
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		return err == nil && d == 0
	}
	return false
}

// valueRange is the source range of the entry name of the values object
// (key and value), or of the whole expression when it is not an object
// constructor (a function call, a variable).
func (d *decoder) valueRange(attr *hcl.Attribute, name string) hcl.Range {
	rng := attr.Expr.Range()
	if items, diags := hcl.ExprMap(attr.Expr); !diags.HasErrors() {
		for _, kv := range items {
			k, diags := kv.Key.Value(d.ctx)
			if diags.HasErrors() || !k.IsWhollyKnown() || k.IsNull() || k.Type() != cty.String {
				continue
			}
			if k, _ := k.Unmark(); k.AsString() == name {
				rng = hcl.RangeBetween(kv.Key.Range(), kv.Value.Range())
			}
		}
	}
	return rng
}

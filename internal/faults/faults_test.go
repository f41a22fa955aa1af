package faults

import "testing"

// An ordinary build carries no kill point: Point is a no-op whatever the
// environment says.
func TestPointIsANoOpWithoutTheTag(t *testing.T) {
	if Enabled {
		t.Skip("built with -tags faultpoints")
	}
	t.Setenv("GROUNDWORK_FAULTPOINT", "x")
	Point("x")
}

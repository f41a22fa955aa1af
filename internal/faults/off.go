//go:build !faultpoints

package faults

// Point does nothing: the binary was built without the faultpoints tag.
func Point(name string) {}

// Enabled reports whether this build has kill points.
const Enabled = false

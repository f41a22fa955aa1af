// Package golden compares test output with golden files in testdata;
// go test ... -update rewrites them.
package golden

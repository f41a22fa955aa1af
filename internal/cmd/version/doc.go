// Package version implements groundwork version.
package version

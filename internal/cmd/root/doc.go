// Package root assembles the groundwork command tree and its global flags.
package root

// Package cmdtest builds Factories over in-memory streams for command tests.
package cmdtest

// Package gittest makes real bare Git repositories for tests with the real
// git binary, and commits to them as a user would.
package gittest

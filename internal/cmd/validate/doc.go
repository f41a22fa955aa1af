// Package validate implements groundwork validate: check environment files
// and report every problem with its place and a hint, touching nothing.
package validate

// Package diag renders HCL diagnostics for people and for programs: as text
// through hcl's own diagnostic writer, each led by a file:line:column line
// that editors and terminals can jump to, and as stable JSON.
package diag

package modules

import (
	"embed"
	"io/fs"
)

//go:embed eks/*.tf gke/*.tf aks/*.tf
var files embed.FS

// Names are the modules, by cluster provider.
var Names = []string{"eks", "gke", "aks"}

// FS returns the files of the module name (its .tf files only).
func FS(name string) (fs.FS, error) {
	return fs.Sub(files, name)
}

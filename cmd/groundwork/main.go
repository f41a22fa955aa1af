// Command groundwork lays down a whole Kubernetes environment from one
// declarative file, and lays it down again after a disaster.
package main

import (
	"os"

	"github.com/groundwork-dev/groundwork/internal/app"
)

func main() {
	os.Exit(app.Main())
}

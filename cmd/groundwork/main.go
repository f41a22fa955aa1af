package main

import (
	"os"

	"github.com/groundwork-dev/groundwork/internal/app"
)

func main() {
	os.Exit(app.Main())
}

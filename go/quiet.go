package main

import (
	"io"
	"log"
)

// The shim must never write to the host process's stdout/stderr; silence
// the std logger in case anything below us uses it.
func init() {
	log.SetOutput(io.Discard)
}

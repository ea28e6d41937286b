// Command pause is a pod sandbox's only process: it holds the pod's namespaces and sleeps
// until SIGINT or SIGTERM. A static binary (CGO_ENABLED=0), alone in its image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}

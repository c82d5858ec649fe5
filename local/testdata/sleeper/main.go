// Command sleeper is a test image's entrypoint: `train` runs until SIGTERM
// and then exits 0; `serve` exits 1 at once, as a broken serving image.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "train" {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		fmt.Println("sleeper: training until SIGTERM")
		<-sigs
		fmt.Println("sleeper: SIGTERM")
		return
	}
	fmt.Fprintln(os.Stderr, "sleeper: this image cannot serve")
	os.Exit(1)
}

// Command insure is the insurance management backend: see `insure --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"insure/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Command labserve is the built-in server for the kubelet's unit tests: workload.Serve behind workload's flags,
// as the lab binary's serve command is.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/switchyard-net/switchyard/test/lab/workload"
)

func main() {
	var o workload.Options
	fs := pflag.NewFlagSet("labserve", pflag.ExitOnError)
	workload.BindFlags(fs, &o)
	_ = fs.Parse(os.Args[1:])
	if err := workload.Serve(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

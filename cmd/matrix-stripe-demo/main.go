// Command matrix-stripe-demo is what `make demo` runs: it starts a
// throwaway Dendrite, a fake Stripe seeded with demo customers, and the
// bridge between them on one machine, prints how to log in and what to try,
// and removes all of it on Ctrl-C. It needs nothing but Go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const (
	// defaultHomeserverPort is the port Matrix clients suggest for a local
	// server, so a user can type http://localhost:8008 from habit.
	defaultHomeserverPort = 8008
	// defaultStripePort is stripe-mock's usual port, which people who have
	// used Stripe's tooling may recognise.
	defaultStripePort = 12111

	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as a shell reports it
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "ask" {
		return runAsk(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("matrix-stripe-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./cmd/matrix-stripe-demo [-port N] [-keep] [-v] [-encryption]")
		fmt.Fprintln(stderr, "   or: go run ./cmd/matrix-stripe-demo ask [-scenario FILE] [-json] [-locale TAG] -customer cus_… \"question\"")
		fmt.Fprintln(stderr, "Runs Dendrite, a fake Stripe with demo customers and the bridge until Ctrl-C.")
		fs.PrintDefaults()
	}
	port := fs.Int("port", defaultHomeserverPort, "homeserver port on 127.0.0.1; without this flag a free port is used if 8008 is taken")
	keep := fs.Bool("keep", false, "keep the demo folder (config, databases, Dendrite's log) after exit and print its path")
	verbose := fs.Bool("v", false, "debug logging, including every request to the fake Stripe")
	encryption := fs.Bool("encryption", false, "create the customer rooms encrypted (end-to-bridge encryption, docs/encryption.md)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if *port < 1 || *port > 65535 {
		fmt.Fprintf(stderr, "-port %d is not a TCP port\n", *port)
		return exitUsage
	}
	portSet := false
	fs.Visit(func(f *flag.Flag) { portSet = portSet || f.Name == "port" })
	hsPort := *port
	if !portSet {
		hsPort = preferredPort(defaultHomeserverPort)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintln(stdout, "Starting the matrix-stripe demo: Dendrite, a fake Stripe with demo customers, and the bridge.")
	d, err := setup(ctx, options{
		HomeserverPort: hsPort,
		StripePort:     preferredPort(defaultStripePort),
		Keep:           *keep,
		Verbose:        *verbose,
		Encryption:     *encryption,
		Log:            stderr,
		Progress:       stdout,
	})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stdout, "Interrupted before the demo was up; everything it started is stopped and removed.")
			return exitInterrupted
		}
		reportStartError(stderr, err, *verbose)
		return exitFailed
	}

	printBanner(ctx, stdout, d)
	<-ctx.Done()
	// From here a second Ctrl-C ends the process at once; the kernel still
	// kills Dendrite with it (parent-death signal).
	stop()
	fmt.Fprintln(stdout, "\nStopping the bridge, the fake Stripe and Dendrite...")
	if err := d.Close(); err != nil {
		fmt.Fprintf(stderr, "Shutdown was not clean: %v\n", err)
		return exitFailed
	}
	if *keep {
		fmt.Fprintf(stdout, "Stopped. The demo folder is kept: %s\n", d.Dir)
	} else {
		fmt.Fprintln(stdout, "Stopped and cleaned up.")
	}
	return exitOK
}

// reportStartError prints one line a user can act on, and where Dendrite's
// log is. The full error (Dendrite's errors carry its log tail) is for -v.
func reportStartError(w io.Writer, err error, verbose bool) {
	msg := err.Error()
	first, rest, multiline := strings.Cut(msg, "\n")
	if verbose {
		first = msg
	}
	fmt.Fprintf(w, "The demo failed while %s\n", first)
	var se *startError
	if errors.As(err, &se) && se.dendriteLog != "" {
		fmt.Fprintf(w, "Dendrite's log: %s (the demo folder is kept so you can read it; delete it when done)\n", se.dendriteLog)
	}
	if multiline && !verbose && strings.TrimSpace(rest) != "" {
		fmt.Fprintln(w, "Run with -v for the full error.")
	}
}

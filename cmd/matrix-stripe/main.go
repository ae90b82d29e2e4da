// Command matrix-stripe runs the bridge. Flags follow mautrix bridges:
// -e writes the example config, -g writes registration.yaml and saves the
// generated tokens into the config, -c/-r choose the paths.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.mau.fi/util/random"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
	"github.com/matrix-stripe/matrix-stripe/bridge"
	"github.com/matrix-stripe/matrix-stripe/config"
)

// Version is set at build time with -ldflags "-X main.Version=..." (make
// build and the Dockerfile pass `git describe --tags`); a plain `go build`
// or `go install` of a tagged module gets the tag from the build info.
var Version = ""

// version is the release tag this binary was built from, or, between
// releases, the commit's description.
func version() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// Exit codes, documented in the README so service managers can tell a
// configuration mistake (don't restart) from a transient failure (do).
const (
	exitOK          = 0
	exitUsage       = 2
	exitConfig      = 10
	exitDatabase    = 11
	exitHomeserver  = 12
	exitStripe      = 13
	exitStartFailed = 14
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "ask" {
		return runAsk(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("matrix-stripe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("c", "config.yaml", "path to the config file")
	registrationPath := fs.String("r", "registration.yaml", "path to the registration file (with -g)")
	writeExample := fs.Bool("e", false, "write the example config to the -c path and exit")
	generate := fs.Bool("g", false, "generate the registration file, save the tokens into the config, and exit")
	noUpdate := fs.Bool("n", false, "don't save the upgraded config back to disk")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	switch {
	case *showVersion:
		fmt.Fprintf(stdout, "matrix-stripe %s\n", version())
		return exitOK
	case *writeExample:
		return writeExampleConfig(*configPath, stdout, stderr)
	case *generate:
		return generateRegistration(*configPath, *registrationPath, stdout, stderr)
	}
	cfg, err := config.Load(*configPath, !*noUpdate)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error in config %s: %v\n", *configPath, err)
		return exitConfig
	}
	log := cfg.Logger(os.Stderr)
	br := bridge.New(cfg, log, version())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err = br.Start(ctx); err != nil {
		log.Error().Err(err).Msg("Failed to start bridge")
		switch {
		case errors.Is(err, bridge.ErrDatabase):
			return exitDatabase
		case errors.Is(err, bridge.ErrHomeserver):
			return exitHomeserver
		case errors.Is(err, bridge.ErrStripe):
			return exitStripe
		default:
			return exitStartFailed
		}
	}
	select {
	case <-ctx.Done():
		log.Info().Msg("Received signal, shutting down")
		br.Stop()
		return exitOK
	case err = <-br.Fatal():
		log.Error().Err(err).Msg("Bridge failed, shutting down")
		br.Stop()
		return exitStartFailed
	}
}

func writeExampleConfig(path string, stdout, stderr io.Writer) int {
	// O_EXCL: never overwrite a config that holds someone's tokens.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "Failed to write example config: %v\n", err)
		return exitConfig
	}
	defer f.Close()
	if _, err = f.WriteString(matrixstripe.ExampleConfig); err != nil {
		fmt.Fprintf(stderr, "Failed to write example config: %v\n", err)
		return exitConfig
	}
	fmt.Fprintf(stdout, "Wrote example config to %s. Edit it, then run with -g to generate the registration.\n", path)
	return exitOK
}

func generateRegistration(configPath, registrationPath string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(configPath, true)
	if err != nil {
		fmt.Fprintf(stderr, "Error in config %s: %v\n", configPath, err)
		return exitConfig
	}
	reg := cfg.GenerateRegistration()
	if err = reg.Save(registrationPath); err != nil {
		fmt.Fprintf(stderr, "Failed to save registration: %v\n", err)
		return exitConfig
	}
	if err = config.SaveTokens(configPath, reg.AppToken, reg.ServerToken); err != nil {
		fmt.Fprintf(stderr, "Failed to save tokens into config: %v\n", err)
		return exitConfig
	}
	if err = config.SavePickleKey(configPath, random.String(32)); err != nil {
		fmt.Fprintf(stderr, "Failed to save the encryption pickle key into config: %v\n", err)
		return exitConfig
	}
	fmt.Fprintf(stdout, "Wrote registration to %s and saved its tokens into %s.\nAdd the registration to your homeserver (Synapse: app_service_config_files; Dendrite: app_service_api.config_files) and restart it.\n", registrationPath, configPath)
	return exitOK
}

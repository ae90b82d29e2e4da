package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	dendriteBinary     = "dendrite"
	dendriteConfigFile = "dendrite.yaml"
	dendriteKeyFile    = "matrix_key.pem"
	dendriteLogFile    = "dendrite.log"
)

// DendriteOptions configures StartDendrite. The zero value is a fresh
// homeserver named localhost on a free port.
type DendriteOptions struct {
	// Dir is the data folder. Empty means a new temporary folder that Close
	// removes; a given folder is kept, and a signing key already in it is
	// reused so that existing data stays valid.
	Dir string
	// ServerName defaults to "localhost".
	ServerName string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// AppserviceRegistrations are paths of appservice registration YAML files
	// to load. Dendrite reads them only at start.
	AppserviceRegistrations []string
	// ReadyTimeout defaults to 60 s.
	ReadyTimeout time.Duration
	// DurableJetStream keeps Dendrite's internal queues (NATS JetStream) on
	// disk, as a production Dendrite does, instead of in memory. Dendrite
	// answers a send once the roomserver has stored the event, and the sync
	// API (which serves /messages and /event) consumes it from a queue
	// afterwards: with in-memory queues, a Dendrite killed or restarted in
	// between has answered 200 for an event that clients never see. A test
	// that stops Dendrite and expects it to keep what it acknowledged needs
	// this; Dendrite then fsyncs every queued message, which costs time.
	DurableJetStream bool
}

// Dendrite is a running (or stopped) throwaway Dendrite homeserver.
type Dendrite struct {
	URL          string // http://127.0.0.1:PORT
	ServerName   string
	SharedSecret string // registration_shared_secret, for RegisterUser
	Dir          string // data folder (config, SQLite files, media, log)
	LogPath      string // Dendrite's stdout and stderr, appended across restarts

	spec    procSpec
	ownsDir bool

	mu   sync.Mutex
	proc *process // nil while stopped
}

// StartDendrite writes a throwaway config and starts Dendrite with it,
// returning once the client API answers. Call Close when done.
func StartDendrite(ctx context.Context, opts DendriteOptions) (*Dendrite, error) {
	bin, err := toolPath(dendriteBinary)
	if err != nil {
		return nil, err
	}
	d := &Dendrite{ServerName: opts.ServerName, Dir: opts.Dir}
	if d.ServerName == "" {
		d.ServerName = "localhost"
	}
	if d.Dir == "" {
		if d.Dir, err = os.MkdirTemp("", "testenv-dendrite-"); err != nil {
			return nil, err
		}
		d.ownsDir = true
	} else {
		if d.Dir, err = filepath.Abs(d.Dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(d.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	fail := func(err error) (*Dendrite, error) {
		if d.ownsDir {
			_ = os.RemoveAll(d.Dir)
		}
		return nil, err
	}

	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return fail(err)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	d.URL = "http://" + addr
	d.LogPath = filepath.Join(d.Dir, dendriteLogFile)
	if d.SharedSecret, err = randomHex(24); err != nil {
		return fail(err)
	}
	if err := writeSigningKeyIfMissing(filepath.Join(d.Dir, dendriteKeyFile)); err != nil {
		return fail(err)
	}
	cfg, err := dendriteConfig(d.ServerName, d.SharedSecret, opts.AppserviceRegistrations, opts.DurableJetStream)
	if err != nil {
		return fail(err)
	}
	if err := writeYAML(filepath.Join(d.Dir, dendriteConfigFile), cfg); err != nil {
		return fail(err)
	}

	d.spec = procSpec{
		name:         "dendrite",
		bin:          bin,
		args:         []string{"-config", dendriteConfigFile, "-http-bind-address", addr},
		dir:          d.Dir,
		logPath:      d.LogPath,
		ready:        httpReady(d.URL+"/_matrix/client/versions", nil),
		readyTimeout: opts.ReadyTimeout,
	}
	if err := d.Start(ctx); err != nil {
		return fail(err)
	}
	return d, nil
}

// Start starts a stopped homeserver again on the same port with the same
// data. It does nothing if it is running, and restarts it if it crashed.
func (d *Dendrite) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc != nil {
		select {
		case <-d.proc.exited:
		default:
			return nil
		}
	}
	proc, err := startProcess(ctx, d.spec)
	if err != nil {
		return err
	}
	d.proc = proc
	return nil
}

// Stop shuts the homeserver down but keeps its data, so tests can make it
// unreachable for a while and then Start it again.
func (d *Dendrite) Stop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return nil
	}
	err := d.proc.stop()
	d.proc = nil
	return err
}

// Restart is Stop followed by Start.
func (d *Dendrite) Restart(ctx context.Context) error {
	return errors.Join(d.Stop(), d.Start(ctx))
}

// PID returns the process id, or 0 while stopped; tests use it to measure
// memory.
func (d *Dendrite) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return 0
	}
	return d.proc.pid()
}

// Close stops the homeserver and removes the data folder if StartDendrite
// created it. It is safe to call more than once.
func (d *Dendrite) Close() error {
	err := d.Stop()
	if d.ownsDir {
		err = errors.Join(err, os.RemoveAll(d.Dir))
	}
	return err
}

// writeSigningKeyIfMissing writes the PEM file Dendrite's generate-keys would
// write: the 32-byte block is the ed25519 seed. Writing it directly saves
// building and running that extra tool.
func writeSigningKeyIfMissing(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	id, err := randomHex(3)
	if err != nil {
		return err
	}
	block := &pem.Block{
		Type:    "MATRIX PRIVATE KEY",
		Headers: map[string]string{"Key-ID": "ed25519:" + id},
		Bytes:   seed,
	}
	return os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
}

type yamlMap = map[string]any

// dendriteConfig builds the config for a quiet, fast, isolated homeserver.
// Relative paths resolve against the data folder, the process's working
// directory.
func dendriteConfig(serverName, sharedSecret string, registrations []string, durableJetStream bool) (yamlMap, error) {
	asFiles := make([]string, 0, len(registrations))
	for _, r := range registrations {
		abs, err := filepath.Abs(r)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("testenv: appservice registration: %w", err)
		}
		asFiles = append(asFiles, abs)
	}
	// With SQLite every component needs its own database; a single global
	// connection string is only supported for PostgreSQL.
	db := func(name string) yamlMap {
		return yamlMap{"connection_string": "file:" + name + ".db"}
	}
	// Federation is on: Dendrite serves /_matrix/federation/v1/openid/userinfo,
	// with which the agent panel checks an OpenID token, only then. It
	// listens on loopback only and has no peers.
	return yamlMap{
		"version": 2,
		"global": yamlMap{
			"server_name":                    serverName,
			"private_key":                    dendriteKeyFile,
			"disable_federation":             false,
			"trusted_third_party_id_servers": []string{},
			"presence":                       yamlMap{"enable_inbound": false, "enable_outbound": false},
			"report_stats":                   yamlMap{"enabled": false},
			"jetstream": yamlMap{
				"in_memory":    !durableJetStream,
				"storage_path": "./jetstream",
				"topic_prefix": "Dendrite",
			},
		},
		"app_service_api": yamlMap{"config_files": asFiles},
		"client_api": yamlMap{
			"registration_disabled":      true,
			"guests_disabled":            true,
			"registration_shared_secret": sharedSecret,
			"rate_limiting":              yamlMap{"enabled": false},
		},
		"federation_api": yamlMap{
			"database":         db("federationapi"),
			"key_perspectives": []any{},
		},
		"key_server": yamlMap{"database": db("keyserver")},
		"media_api": yamlMap{
			"database":            db("mediaapi"),
			"base_path":           "./media_store",
			"max_file_size_bytes": 10 << 20,
			"dynamic_thumbnails":  false,
		},
		"room_server": yamlMap{"database": db("roomserver")},
		"sync_api": yamlMap{
			"database": db("syncapi"),
			"search":   yamlMap{"enabled": false},
		},
		"user_api": yamlMap{
			"account_database": db("userapi_accounts"),
			// Cheapest bcrypt, so registering and logging in test users is fast.
			"bcrypt_cost": 4,
		},
		"relay_api": yamlMap{"database": db("relayapi")},
		"mscs": yamlMap{
			"database": db("mscs"),
			"mscs":     []string{},
		},
		// stdout only: the process helper already writes it to dendrite.log,
		// together with anything printed before logging is set up.
		"logging": []yamlMap{{"type": "std", "level": "info"}},
	}, nil
}

func writeYAML(path string, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

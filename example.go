// Package matrixstripe only embeds the example config, which is both the
// documentation of every option and the base the config upgrader copies into.
package matrixstripe

import _ "embed"

//go:embed example-config.yaml
var ExampleConfig string

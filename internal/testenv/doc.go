// Package testenv starts the project's real test peers, the Dendrite
// homeserver and stripe-mock, as throwaway child processes on loopback.
//
// The core API takes a context and returns errors so the long-running demo can
// use it too; DendriteServer and StripeMockServer wrap it for tests. The peers
// are the pinned binaries that scripts/install-tools.sh puts in .tools/bin.
// ASExtensions fronts Dendrite with the appservice encryption extensions it
// lacks (asext.go), for the tests of the bridge's appservice mode.
package testenv

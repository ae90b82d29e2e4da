package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	up "go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
)

// mutateLeaves changes every scalar under node to a different value of the
// same kind, so a key the upgrader forgets to copy shows up as a difference.
func mutateLeaves(t *testing.T, node *yaml.Node, path string) {
	switch node.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, child := range node.Content {
			mutateLeaves(t, child, path+"["+strconv.Itoa(i)+"]")
		}
	case yaml.MappingNode:
		for i := 0; i < len(node.Content); i += 2 {
			mutateLeaves(t, node.Content[i+1], path+"."+node.Content[i].Value)
		}
	case yaml.ScalarNode:
		switch node.Tag {
		case "!!str":
			node.Value = node.Value + "-changed"
		case "!!int":
			n, err := strconv.Atoi(node.Value)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			node.Value = strconv.Itoa(n + 7)
		case "!!float":
			f, err := strconv.ParseFloat(node.Value, 64)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			node.Value = strconv.FormatFloat(f/2, 'f', -1, 64)
		case "!!bool":
			node.Value = strconv.FormatBool(node.Value != "true")
		case "!!null":
			node.Tag, node.Value = "!!str", "90m"
		default:
			t.Fatalf("%s: unexpected tag %s", path, node.Tag)
		}
	}
}

func TestUpgraderCopiesEveryKey(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(matrixstripe.ExampleConfig), &doc); err != nil {
		t.Fatal(err)
	}
	mutateLeaves(t, &doc, "")
	mutated, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse(mutated)
	if err != nil {
		t.Fatal(err)
	}
	upgraded, err := up.DoBytes(mutated, Upgrader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(upgraded)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("upgrader dropped user values:\n got: %+v\nwant: %+v", got, want)
	}
	if !strings.Contains(string(upgraded), "# Homeserver details.") {
		t.Error("upgraded config lost the example's comments")
	}
}

// yamlPaths lists every key path the struct type can decode.
func yamlPaths(typ reflect.Type, prefix string, into map[string]bool) {
	for i := 0; i < typ.NumField(); i++ {
		field := typ.Field(i)
		name := strings.Split(field.Tag.Get("yaml"), ",")[0]
		path := prefix + "." + name
		into[path] = true
		ft := field.Type
		if ft.Kind() == reflect.Struct {
			yamlPaths(ft, path, into)
		}
	}
}

func examplePaths(node *yaml.Node, prefix string, into map[string]bool) {
	if node.Kind == yaml.DocumentNode {
		examplePaths(node.Content[0], prefix, into)
		return
	}
	if node.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i < len(node.Content); i += 2 {
		path := prefix + "." + node.Content[i].Value
		into[path] = true
		examplePaths(node.Content[i+1], path, into)
	}
}

func TestStructAndExampleAgree(t *testing.T) {
	// Parse uses KnownFields, so this fails on any example key the struct lacks.
	if _, err := Parse([]byte(matrixstripe.ExampleConfig)); err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(matrixstripe.ExampleConfig), &doc); err != nil {
		t.Fatal(err)
	}
	inExample := map[string]bool{}
	examplePaths(&doc, "", inExample)
	inStruct := map[string]bool{}
	yamlPaths(reflect.TypeOf(Config{}), "", inStruct)
	for path := range inStruct {
		if !inExample[path] {
			t.Errorf("struct key %s is missing from example-config.yaml", path)
		}
	}
	for path := range inExample {
		// Dynamic maps (permissions, invite_agents, max_write_amount) have user-chosen keys.
		dynamic := strings.HasPrefix(path, ".bridge.permissions.") || strings.HasPrefix(path, ".bridge.invite_agents.") ||
			strings.HasPrefix(path, ".bridge.max_write_amount.")
		if !inStruct[path] && !dynamic {
			t.Errorf("example key %s is not in the Config struct", path)
		}
	}
}

func TestParseRejectsUnknownKey(t *testing.T) {
	_, err := Parse([]byte("homeserver:\n  adress: http://x\n"))
	if err == nil || !strings.Contains(err.Error(), "adress") {
		t.Fatalf("want an error naming the unknown key, got %v", err)
	}
}

func TestSaveTokensKeepsCommentsAndValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	custom := strings.Replace(matrixstripe.ExampleConfig, "domain: example.com", "domain: mine.example", 1)
	if err := os.WriteFile(path, []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SaveTokens(path, "as-secret", "hs-secret"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AppService.ASToken != "as-secret" || cfg.AppService.HSToken != "hs-secret" {
		t.Errorf("tokens not saved: %q %q", cfg.AppService.ASToken, cfg.AppService.HSToken)
	}
	if cfg.Homeserver.Domain != "mine.example" {
		t.Errorf("user value lost: domain=%q", cfg.Homeserver.Domain)
	}
	if !strings.Contains(string(data), "# Homeserver details.") {
		t.Error("comments lost")
	}
}

func TestGenerateRegistration(t *testing.T) {
	cfg, err := Parse([]byte(matrixstripe.ExampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	reg := cfg.GenerateRegistration()
	if reg.AppToken == "" || reg.ServerToken == "" || reg.AppToken == reg.ServerToken {
		t.Fatalf("tokens not random: %q %q", reg.AppToken, reg.ServerToken)
	}
	if reg.SenderLocalpart != "stripebot" || reg.URL != "http://localhost:29340" || reg.ID != "stripe" {
		t.Errorf("unexpected registration %+v", reg)
	}
	if len(reg.Namespaces.UserIDs) != 2 {
		t.Fatalf("want bot + ghost namespaces, got %+v", reg.Namespaces.UserIDs)
	}
	for _, ns := range reg.Namespaces.UserIDs {
		if !ns.Exclusive {
			t.Errorf("namespace %s is not exclusive", ns.Regex)
		}
	}
	if !cfg.IsGhost("@stripe_main:example.com") || cfg.IsGhost("@stripe_main:evil.example") || cfg.IsGhost("@alice:example.com") {
		t.Error("ghost namespace matches the wrong users")
	}
	if cfg.GhostMXID("main") != "@stripe_main:example.com" {
		t.Errorf("ghost id %s", cfg.GhostMXID("main"))
	}
	if reg.EphemeralEvents || reg.MSC3202 || reg.MSC4190 {
		t.Errorf("appservice encryption extensions asked for while encryption.appservice is off: %+v", reg)
	}
	cfg.Encryption.Allow, cfg.Encryption.Appservice = true, true
	data, err := yaml.Marshal(cfg.GenerateRegistration())
	if err != nil {
		t.Fatal(err)
	}
	// The keys Synapse reads: receive_ephemeral (and MSC2409's unstable
	// name) for to-device events, MSC3202 for device lists, key counts and
	// masquerading, MSC4190 for device creation.
	for _, key := range []string{"receive_ephemeral: true", "de.sorunome.msc2409.push_ephemeral: true", "org.matrix.msc3202: true", "io.element.msc4190: true"} {
		if !strings.Contains(string(data), key) {
			t.Errorf("registration with encryption.appservice lacks %q:\n%s", key, data)
		}
	}
}

func TestApplyEnv(t *testing.T) {
	cfg, err := Parse([]byte(matrixstripe.ExampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"MATRIX_STRIPE_AS_TOKEN":             "as-env",
		"MATRIX_STRIPE_DATABASE_URI":         "postgres://db",
		"MATRIX_STRIPE_MAIN_API_KEY":         "rk_test_env",
		"MATRIX_STRIPE_MAIN_WEBHOOK_SECRETS": "whsec_new, whsec_old",
	}
	cfg.ApplyEnv(func(k string) string { return env[k] })
	acct := cfg.Account("main")
	if cfg.AppService.ASToken != "as-env" || cfg.Database.URI != "postgres://db" || acct.APIKey != "rk_test_env" {
		t.Errorf("env not applied: %+v", cfg)
	}
	if !reflect.DeepEqual(acct.WebhookSecrets, []string{"whsec_new", "whsec_old"}) {
		t.Errorf("secrets %v", acct.WebhookSecrets)
	}
	if cfg.AppService.HSToken != PlaceholderToken {
		t.Error("unset env var overwrote a value")
	}
}

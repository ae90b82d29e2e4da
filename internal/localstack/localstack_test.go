package localstack

import (
	"testing"

	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/id"
)

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	cfg, regPath, err := Build(Options{
		Dir: dir, StripeURL: "http://127.0.0.1:12111", APIKey: "sk_test_1", WebhookSecret: "whsec_1",
		Agents: []id.UserID{"@agent:localhost"}, Admins: []id.UserID{"@admin:localhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := appservice.LoadRegistration(regPath)
	if err != nil {
		t.Fatal(err)
	}
	if reg.AppToken != cfg.AppService.ASToken || reg.ServerToken != cfg.AppService.HSToken || reg.URL != cfg.AppService.Address {
		t.Errorf("registration %+v does not match the config", reg)
	}
	if cfg.Bridge.Permissions.Get("@agent:localhost") != "agent" || cfg.Bridge.Permissions.Get("@admin:localhost") != "admin" ||
		cfg.Bridge.Permissions.Get("@stranger:localhost") != "" {
		t.Errorf("permissions %v", cfg.Bridge.Permissions)
	}
	if cfg.Stripe.Accounts[0].APIURL != "http://127.0.0.1:12111" || cfg.AppService.Port == 0 {
		t.Errorf("config %+v", cfg)
	}
}

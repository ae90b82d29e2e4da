package webchat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/id"
)

// GhostLocalpart is the user a web-chat customer speaks as: the bridge's
// username template applied to "<alias>_<customer id, lower case>", e.g.
// @stripe_main_cus_nffrkhj9ks2b:example.com. Matrix user ids are lower
// case; should two customers' ids differ only in case, the second gets a
// hash of its id appended, so no two customers ever share a user.
func GhostLocalpart(template, alias, customerID string, disambiguate bool) string {
	name := alias + "_" + strings.ToLower(customerID)
	if disambiguate {
		sum := sha256.Sum256([]byte(customerID))
		name += "_" + hex.EncodeToString(sum[:4])
	}
	return strings.ReplaceAll(template, "{{.}}", name)
}

// ghostFor returns (and records) the user the customer speaks as.
func (s *Server) ghostFor(ctx context.Context, alias, customerID string) (id.UserID, error) {
	if user, err := s.opts.DB.WebChat.Ghost(ctx, alias, customerID); err != nil || user != "" {
		return user, err
	}
	cfg := s.opts.Config
	for _, disambiguate := range []bool{false, true} {
		want := id.NewUserID(GhostLocalpart(cfg.AppService.UsernameTemplate, alias, customerID, disambiguate), cfg.Homeserver.Domain)
		got, err := s.opts.DB.WebChat.ClaimGhost(ctx, alias, customerID, want)
		if err != nil || got != "" {
			return got, err
		}
	}
	return "", fmt.Errorf("no free web chat user for %s", customerID)
}

// joinGhost makes sure the customer's user exists, carries their name and
// is in their room (the bot invites it when it is not).
func (s *Server) joinGhost(ctx context.Context, alias, customerID, name string, room id.RoomID) (id.UserID, error) {
	user, err := s.ghostFor(ctx, alias, customerID)
	if err != nil {
		return "", err
	}
	intent := s.intent(user)
	if err = intent.EnsureRegistered(ctx); err != nil {
		return "", fmt.Errorf("register %s: %w", user, err)
	}
	if err = intent.EnsureJoined(ctx, room); err != nil {
		return "", fmt.Errorf("join %s: %w", room, err)
	}
	if member, _ := s.opts.DB.StateStore.GetMember(ctx, room, user); member == nil || member.Displayname != name {
		if err = intent.SetDisplayName(ctx, name); err != nil {
			return "", fmt.Errorf("set display name: %w", err)
		}
	}
	return user, nil
}

package panel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"
)

var errTokenRefused = errors.New("the homeserver refused the OpenID token")

// OpenIDVerifier asks the homeserver at homeserverURL whose user an OpenID
// token belongs to (GET /_matrix/federation/v1/openid/userinfo), and
// accepts only users of domain: a token from another deployment's
// homeserver is refused even if that server vouches for it.
func OpenIDVerifier(client *http.Client, homeserverURL, domain string) func(ctx context.Context, accessToken string) (id.UserID, error) {
	endpoint := strings.TrimRight(homeserverURL, "/") + "/_matrix/federation/v1/openid/userinfo"
	return func(ctx context.Context, accessToken string) (id.UserID, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?access_token="+url.QueryEscape(accessToken), nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			// The URL carries the token: report the endpoint only.
			return "", fmt.Errorf("ask the homeserver: %w", errors.Unwrap(err))
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return "", errTokenRefused
		case resp.StatusCode != http.StatusOK:
			return "", fmt.Errorf("the homeserver answered %d to the OpenID look-up", resp.StatusCode)
		}
		var info struct {
			Sub id.UserID `json:"sub"`
		}
		if err = json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 64<<10)).Decode(&info); err != nil {
			return "", fmt.Errorf("read the OpenID look-up: %w", err)
		}
		if _, server, err := info.Sub.Parse(); err != nil || server != domain {
			return "", errTokenRefused
		}
		return info.Sub, nil
	}
}

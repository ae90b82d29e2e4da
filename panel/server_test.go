package panel

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
)

func testServer(t *testing.T, verify func(ctx context.Context, token string) (id.UserID, error)) *Server {
	t.Helper()
	cfg := &config.Config{}
	cfg.AppService.ASToken = "as-token"
	cfg.AppService.UsernameTemplate = "stripe_{{.}}"
	cfg.Homeserver.Domain = "example.org"
	cfg.Bridge.Permissions = config.Permissions{"@agent:example.org": config.RoleAgent, "@admin:example.org": config.RoleAdmin}
	return New(Options{Config: cfg, VerifyOpenID: verify})
}

func do(s *Server, method, path, body string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

var jsonType = http.Header{"Content-Type": {"application/json"}}

func TestSignIn(t *testing.T) {
	users := map[string]id.UserID{"agent-token": "@agent:example.org", "customer-token": "@customer:example.org"}
	s := testServer(t, func(_ context.Context, token string) (id.UserID, error) {
		if user, ok := users[token]; ok {
			return user, nil
		}
		return "", errTokenRefused
	})
	for _, tc := range []struct {
		name, body string
		header     http.Header
		want       int
		wantError  string
	}{
		{"agent", `{"access_token":"agent-token","matrix_server_name":"example.org"}`, jsonType, 200, ""},
		{"customer", `{"access_token":"customer-token","matrix_server_name":"example.org"}`, jsonType, 403, "for_support_staff"},
		{"refused token", `{"access_token":"nope","matrix_server_name":"example.org"}`, jsonType, 401, "signed_out"},
		{"another deployment", `{"access_token":"agent-token","matrix_server_name":"evil.example"}`, jsonType, 403, "for_support_staff"},
		{"no token", `{"matrix_server_name":"example.org"}`, jsonType, 400, "bad_request"},
		{"form post", `access_token=agent-token`, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, 415, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(s, http.MethodPost, "/panel/v1/session", tc.body, tc.header)
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.want || (tc.wantError != "" && body["error"] != tc.wantError) {
				t.Fatalf("got %d %v, want %d %s", rec.Code, body, tc.want, tc.wantError)
			}
			if tc.want != 200 {
				if rec.Header().Get("Set-Cookie") != "" {
					t.Errorf("a refused sign-in set a cookie")
				}
				return
			}
			cookie := rec.Result().Cookies()[0]
			if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
				t.Errorf("cookie %+v", cookie)
			}
			// Both ways in: the widget's bearer token, a tab's cookie.
			for name, header := range map[string]http.Header{
				"bearer": {"Authorization": {"Bearer " + body["token"].(string)}},
				"cookie": {"Cookie": {cookie.Name + "=" + cookie.Value}},
			} {
				if rec := do(s, http.MethodGet, "/panel/v1/session", "", header); rec.Code != 200 || !strings.Contains(rec.Body.String(), "@agent:example.org") {
					t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
				}
			}
		})
	}
}

// A session is only what the bridge signed, until it expires, for a user
// who still has a role.
func TestSessionTokens(t *testing.T) {
	s := testServer(t, nil)
	sign := func(key []byte, method jwt.SigningMethod, sub string, exp time.Time) string {
		tok, err := jwt.NewWithClaims(method, sessionClaims{RegisteredClaims: jwt.RegisteredClaims{
			Subject: sub, Audience: jwt.ClaimStrings{sessionAudience}, ExpiresAt: jwt.NewNumericDate(exp),
		}, CSRF: "c"}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	key := s.sessions.key
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"valid", sign(key, jwt.SigningMethodHS256, "@agent:example.org", time.Now().Add(time.Hour)), 200},
		{"expired", sign(key, jwt.SigningMethodHS256, "@agent:example.org", time.Now().Add(-time.Minute)), 401},
		{"other key", sign([]byte("another deployment"), jwt.SigningMethodHS256, "@agent:example.org", time.Now().Add(time.Hour)), 401},
		{"other algorithm", sign(key, jwt.SigningMethodHS512, "@agent:example.org", time.Now().Add(time.Hour)), 401},
		{"role taken away", sign(key, jwt.SigningMethodHS256, "@former:example.org", time.Now().Add(time.Hour)), 403},
		{"garbage", "not.a.token", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(s, http.MethodGet, "/panel/v1/session", "", http.Header{"Authorization": {"Bearer " + tc.token}})
			if rec.Code != tc.want {
				t.Errorf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
}

func TestOpenIDVerifier(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_matrix/federation/v1/openid/userinfo" {
			http.NotFound(w, r)
			return
		}
		switch r.URL.Query().Get("access_token") {
		case "ours":
			_, _ = w.Write([]byte(`{"sub":"@agent:example.org"}`))
		case "theirs":
			_, _ = w.Write([]byte(`{"sub":"@agent:evil.example"}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errcode":"M_UNKNOWN_TOKEN"}`))
		}
	}))
	defer hs.Close()
	verify := OpenIDVerifier(hs.Client(), hs.URL, "example.org")
	if user, err := verify(context.Background(), "ours"); err != nil || user != "@agent:example.org" {
		t.Errorf("our user: %s %v", user, err)
	}
	for _, token := range []string{"theirs", "unknown"} {
		if user, err := verify(context.Background(), token); err != errTokenRefused {
			t.Errorf("%s: %s %v, want refused", token, user, err)
		}
	}
	down := OpenIDVerifier(hs.Client(), "http://127.0.0.1:1", "example.org")
	if _, err := down(context.Background(), "ours"); err == nil || err == errTokenRefused || strings.Contains(err.Error(), "ours") {
		t.Errorf("homeserver down: %v (must be an outage, and never show the token)", err)
	}
}

// A flood of sign-ins from one address gets "slow down", and never reaches
// the homeserver.
func TestSignInRateLimit(t *testing.T) {
	var asked int
	s := testServer(t, func(context.Context, string) (id.UserID, error) {
		asked++
		return "", errTokenRefused
	})
	codes := map[int]int{}
	for range 30 {
		codes[do(s, http.MethodPost, "/panel/v1/session", `{"access_token":"x","matrix_server_name":"example.org"}`, jsonType).Code]++
	}
	if codes[http.StatusTooManyRequests] == 0 || asked > 11 {
		t.Errorf("30 sign-ins at once: answers %v, %d asked the homeserver", codes, asked)
	}
}

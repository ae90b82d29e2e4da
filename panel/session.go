package panel

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"maunium.net/go/mautrix/id"
)

// sessionLifetime: a working day. The role is checked on every request, so
// a session outliving a role change shows nothing.
const sessionLifetime = 8 * time.Hour

const cookieName = "matrix_stripe_panel"

// session is a signed-in agent. It is a signed token, not a row: every
// bridge process sharing the registration verifies it without a lookup.
type session struct {
	UserID id.UserID
	// CSRF must come back in a header with every action, so a page that
	// merely makes the browser send the cookie cannot act.
	CSRF    string
	Expires time.Time
}

type sessionClaims struct {
	jwt.RegisteredClaims
	CSRF string `json:"csrf"`
}

func newSession(userID id.UserID) *session {
	buf := make([]byte, 18)
	_, _ = rand.Read(buf)
	return &session{UserID: userID, CSRF: base64.RawURLEncoding.EncodeToString(buf), Expires: time.Now().Add(sessionLifetime)}
}

// sessionKeys signs and verifies sessions with a key derived from the
// appservice token, which every process of the deployment has and nobody
// outside it does; a key of its own, so a session token is never an
// appservice credential.
type sessionKeys struct{ key []byte }

func newSessionKeys(asToken string) sessionKeys {
	sum := sha256.Sum256([]byte("matrix-stripe panel session\x00" + asToken))
	return sessionKeys{key: sum[:]}
}

const sessionAudience = "matrix-stripe-panel"

func (k sessionKeys) sign(sess *session) (string, error) {
	claims := sessionClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sess.UserID.String(),
			Audience:  jwt.ClaimStrings{sessionAudience},
			ExpiresAt: jwt.NewNumericDate(sess.Expires),
			IssuedAt:  jwt.NewNumericDate(time.Now()),
		},
		CSRF: sess.CSRF,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(k.key)
}

var errNoSession = errors.New("no valid panel session")

// fromRequest reads the session from the Authorization header (the widget
// inside Element's frame) or the cookie (a browser tab signed in by link).
func (k sessionKeys) fromRequest(r *http.Request) (*session, error) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		cookie, err := r.Cookie(cookieName)
		if err != nil {
			return nil, errNoSession
		}
		raw = cookie.Value
	}
	var claims sessionClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return k.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithAudience(sessionAudience),
		jwt.WithExpirationRequired())
	if err != nil || claims.Subject == "" || claims.CSRF == "" {
		return nil, errNoSession
	}
	return &session{UserID: id.UserID(claims.Subject), CSRF: claims.CSRF, Expires: claims.ExpiresAt.Time}, nil
}

// setSessionCookie keeps the session for a browser tab; Secure when the
// panel is reached over https (directly or behind a proxy that says so).
// Its path is the whole listener: the dashboard (/dashboard/) signs in
// with the same session.
func setSessionCookie(w http.ResponseWriter, r *http.Request, token string, sess *session) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: token, Path: "/", Expires: sess.Expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
}

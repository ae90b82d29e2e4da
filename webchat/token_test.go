package webchat

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Unix(1_780_000_000, 0)
)

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{"sub": "cus_Abc123", "acct": "main", "iat": testNow.Unix(), "exp": testNow.Add(10 * time.Minute).Unix(),
		"name": "Ada", "locale": "de"}
}

func with(claims jwt.MapClaims, key string, value any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range claims {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

// Only a token the merchant signed with the account's secret, with HS256,
// unexpired, for this account, about a customer, signs anyone in; each
// refusal says why in its own code.
func TestVerifyToken(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	noneToken := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, goodClaims())
	good := sign(t, jwt.SigningMethodHS256, testSecret, goodClaims())
	header, payload, _ := strings.Cut(good, ".")
	payload, _, _ = strings.Cut(payload, ".")
	cases := []struct {
		name  string
		token string
		want  *apiError
	}{
		{"good", good, nil},
		{"within the clock skew", sign(t, jwt.SigningMethodHS256, testSecret, with(goodClaims(), "exp", testNow.Add(-30*time.Second).Unix())), nil},
		{"expired", sign(t, jwt.SigningMethodHS256, testSecret, with(goodClaims(), "exp", testNow.Add(-2*time.Minute).Unix())), errTokenExpired},
		{"no expiry", sign(t, jwt.SigningMethodHS256, testSecret, with(goodClaims(), "exp", nil)), errTokenInvalid},
		{"no issued-at", sign(t, jwt.SigningMethodHS256, testSecret, with(goodClaims(), "iat", nil)), errTokenInvalid},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, testSecret, with(goodClaims(), "iat", testNow.Add(time.Hour).Unix())), errTokenInvalid},
		{"other secret", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), goodClaims()), errTokenInvalid},
		{"alg none", noneToken, errTokenAlgorithm},
		{"alg none, signature stripped from a good token", header + "." + payload + ".", errTokenInvalid},
		{"HS512", sign(t, jwt.SigningMethodHS512, testSecret, goodClaims()), errTokenAlgorithm},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey, goodClaims()), errTokenAlgorithm},
		{"other account", sign(t, jwt.SigningMethodHS256, testSecret, with(goodClaims(), "acct", "other")), errWrongAccount},
		{"not a customer id", sign(t, jwt.SigningMethodHS256, testSecret, with(goodClaims(), "sub", "acct_123")), errTokenInvalid},
		{"garbage", "not.a.token", errTokenInvalid},
		{"empty", "", errTokenInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := verifyToken(c.token, "main", testSecret, testNow)
			if c.want == nil {
				if err != nil || id.Subject != "cus_Abc123" || id.Name != "Ada" || id.Locale != "de" {
					t.Fatalf("refused a good token: %v %+v", err, id)
				}
				return
			}
			var got *apiError
			if !errors.As(err, &got) || got != c.want {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

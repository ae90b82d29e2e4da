package webhook

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v76/webhook"
)

// Why not stripewebhook.ConstructEventWithOptions: it measures the
// signature's age with time.Since, so Options.Now could not be honoured
// (tests and a bridge with an injected clock would disagree with it), and it
// decodes the body into stripe.Event, which ties parsing to the shapes of
// API version 2023-10-16 while mismatched versions must be stored, not
// rejected. Only the header parser is ours (stripe-go does not export it);
// the HMAC itself is stripe-go's ComputeSignature, and the rules match
// stripe-go's: "v1" signatures only, any may match (Stripe sends several
// while a secret is being rolled). One rule is stricter: stripe-go checks
// only the age, so a signature dated an hour ahead would stay valid for an
// hour and five minutes; here the tolerance applies on both sides of now.
// TestVerifyAgreesWithStripeGo keeps the two in step otherwise.

// signatureScheme is the only scheme accepted: Stripe says to ignore all
// others so an attacker cannot downgrade to a weaker one (test mode also
// sends a v0 entry made with a throwaway secret).
const signatureScheme = "v1"

var (
	errNotSigned        = errors.New("missing Stripe-Signature header")
	errInvalidHeader    = errors.New("malformed Stripe-Signature header")
	errNoValidSignature = errors.New("no signature matches any of the account's secrets")
	errTooOld           = errors.New("signature timestamp is outside the tolerance")
	errFromFuture       = errors.New("signature timestamp is in the future beyond the tolerance")
)

// signedHeader is a parsed Stripe-Signature header.
type signedHeader struct {
	timestamp  time.Time
	signatures [][]byte
}

// parseSignatureHeader reads "t=<unix seconds>,v1=<hex>[,v1=<hex>…]". A
// header with two timestamps is refused: the timestamp that is checked
// against the tolerance must be the one the signature covers, with no
// guessing which one that is.
func parseSignatureHeader(header string) (signedHeader, error) {
	var sh signedHeader
	if header == "" {
		return sh, errNotSigned
	}
	seenTimestamp := false
	for pair := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(pair, "=")
		if !ok || strings.Contains(value, "=") {
			return sh, errInvalidHeader
		}
		switch key {
		case "t":
			if seenTimestamp {
				return sh, errInvalidHeader
			}
			seenTimestamp = true
			unix, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return sh, errInvalidHeader
			}
			sh.timestamp = time.Unix(unix, 0)
		case signatureScheme:
			sig, err := hex.DecodeString(value)
			if err != nil {
				// As stripe-go does: one unreadable entry does not spoil
				// the others.
				continue
			}
			sh.signatures = append(sh.signatures, sig)
		}
	}
	if !seenTimestamp {
		return sh, errInvalidHeader
	}
	if len(sh.signatures) == 0 {
		return sh, errNoValidSignature
	}
	return sh, nil
}

// verifySignature checks that one of secrets signed payload at the header's
// timestamp, and that the timestamp is at most tolerance before or after
// now. It returns the signing time even when it is out of range, for the log.
//
// The signature is checked before the age, so "too old" is only ever said of
// a genuine event: a forged one is reported as forged, whatever its age.
func verifySignature(payload []byte, header string, secrets []string, tolerance time.Duration, now time.Time) (time.Time, error) {
	sh, err := parseSignatureHeader(header)
	if err != nil {
		return sh.timestamp, err
	}
	if !matchesAnySecret(payload, sh, secrets) {
		return sh.timestamp, errNoValidSignature
	}
	if now.Sub(sh.timestamp) > tolerance {
		return sh.timestamp, errTooOld
	}
	// A genuine signature dated ahead means a clock is off (Stripe's or
	// ours); accepting it would let a captured request be replayed for
	// longer than the tolerance promises.
	if sh.timestamp.Sub(now) > tolerance {
		return sh.timestamp, errFromFuture
	}
	return sh.timestamp, nil
}

func matchesAnySecret(payload []byte, sh signedHeader, secrets []string) bool {
	for _, secret := range secrets {
		if secret == "" {
			// Anyone can compute an HMAC with an empty key.
			continue
		}
		expected := stripewebhook.ComputeSignature(sh.timestamp, payload, secret)
		for _, sig := range sh.signatures {
			if hmac.Equal(expected, sig) {
				return true
			}
		}
	}
	return false
}

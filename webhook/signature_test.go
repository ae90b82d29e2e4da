package webhook

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v76/webhook"
)

// TestVerifyAgreesWithStripeGo checks the verifier against stripe-go's own,
// at the real clock: alike for every header, except that ours also refuses
// signatures dated too far ahead.
func TestVerifyAgreesWithStripeGo(t *testing.T) {
	payload := eventJSON("evt_1", "invoice.paid", invoiceObject("cus_1"))
	now := time.Now()
	good := sign(payload, testSecret, now)
	goodSig := strings.SplitN(good, "v1=", 2)[1]
	ts := fmt.Sprint(now.Unix())
	cases := map[string]string{
		"valid":                good,
		"valid, extra scheme":  good + ",v0=" + goodSig,
		"second of two":        "t=" + ts + ",v1=" + strings.Repeat("ab", 32) + ",v1=" + goodSig,
		"unreadable then good": "t=" + ts + ",v1=zz,v1=" + goodSig,
		"unknown key":          "t=" + ts + ",x=1,v1=" + goodSig,
		"v0 only":              "t=" + ts + ",v0=" + goodSig,
		"no timestamp":         "v1=" + goodSig,
		"bad timestamp":        "t=soon,v1=" + goodSig,
		"no signature":         "t=" + ts,
		"pair without =":       good + ",junk",
		"pair with two =":      good + ",v1=a=b",
		"empty":                "",
		"wrong secret":         sign(payload, oldSecret, now),
		"too old":              sign(payload, testSecret, now.Add(-10*time.Minute)),
		"just inside":          sign(payload, testSecret, now.Add(-290*time.Second)),
		"just ahead":           sign(payload, testSecret, now.Add(290*time.Second)),
	}
	for name, header := range cases {
		_, ours := verifySignature(payload, header, []string{testSecret}, DefaultTolerance, now)
		theirs := stripewebhook.ValidatePayloadWithTolerance(payload, header, testSecret, DefaultTolerance)
		if (ours == nil) != (theirs == nil) {
			t.Errorf("%s: ours %v, stripe-go %v", name, ours, theirs)
		}
	}
	// stripe-go checks only the age: a signature ten minutes ahead passes
	// there and must not pass here.
	ahead := sign(payload, testSecret, now.Add(10*time.Minute))
	if err := stripewebhook.ValidatePayloadWithTolerance(payload, ahead, testSecret, DefaultTolerance); err != nil {
		t.Errorf("stripe-go now refuses future signatures (%v); the divergence documented in signature.go is gone", err)
	}
	if _, err := verifySignature(payload, ahead, []string{testSecret}, DefaultTolerance, now); !errors.Is(err, errFromFuture) {
		t.Errorf("ten minutes ahead: %v, want errFromFuture", err)
	}
}

func TestVerifyDetails(t *testing.T) {
	payload := []byte(`{"id":"evt_1"}`)
	at := testNow()
	header := sign(payload, testSecret, at)
	secrets := []string{oldSecret, testSecret}

	signedAt, err := verifySignature(payload, header, secrets, DefaultTolerance, at.Add(DefaultTolerance))
	if err != nil || !signedAt.Equal(at) {
		t.Errorf("at the edge: %v, %v", signedAt, err)
	}
	signedAt, err = verifySignature(payload, header, secrets, DefaultTolerance, at.Add(DefaultTolerance+time.Second))
	if !errors.Is(err, errTooOld) || !signedAt.Equal(at) {
		t.Errorf("one second late: %v, %v", signedAt, err)
	}
	// The same window ahead of the clock.
	if _, err = verifySignature(payload, header, secrets, DefaultTolerance, at.Add(-DefaultTolerance)); err != nil {
		t.Errorf("at the edge ahead: %v", err)
	}
	signedAt, err = verifySignature(payload, header, secrets, DefaultTolerance, at.Add(-DefaultTolerance-time.Second))
	if !errors.Is(err, errFromFuture) || !signedAt.Equal(at) {
		t.Errorf("one second too early: %v, %v", signedAt, err)
	}
	// A forgery dated ahead is still called a forgery.
	ahead := sign(payload, "whsec_forger", at.Add(time.Hour))
	if _, err = verifySignature(payload, ahead, secrets, DefaultTolerance, at); !errors.Is(err, errNoValidSignature) {
		t.Errorf("future forgery: %v", err)
	}
	// A forgery is called a forgery, however old.
	old := sign(payload, "whsec_forger", at.Add(-time.Hour))
	if _, err = verifySignature(payload, old, secrets, DefaultTolerance, at); !errors.Is(err, errNoValidSignature) {
		t.Errorf("old forgery: %v", err)
	}
	// Which timestamp the signature covers must not be a guess.
	twoTimes := header + ",t=" + fmt.Sprint(at.Unix()+1000)
	if _, err = verifySignature(payload, twoTimes, secrets, DefaultTolerance, at); !errors.Is(err, errInvalidHeader) {
		t.Errorf("two timestamps: %v", err)
	}
	// Empty secrets are skipped, not used as an HMAC key.
	if _, err = verifySignature(payload, sign(payload, "", at), []string{""}, DefaultTolerance, at); !errors.Is(err, errNoValidSignature) {
		t.Errorf("empty secret: %v", err)
	}
}

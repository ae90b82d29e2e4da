// Package stripefake is a stateful, in-memory Stripe API server (API version
// 2023-10-16) that the unmodified stripe-go v76 client can talk to, so the
// bridge's behaviour (ownership checks, declines, 404s, idempotency, the
// webhooks that follow a write) can be tested and demonstrated without Stripe.
//
// It keeps customers, payment methods, products, prices, coupons,
// subscriptions, invoices, charges, payment intents, refunds, disputes,
// customer balance transactions, billing portal sessions and events in
// memory, answers with Stripe's JSON shapes and error objects, records an
// event for every change and delivers it to webhook endpoints signed the way
// Stripe signs (`Stripe-Signature: t=…,v1=…`). State can be seeded from a
// YAML scenario (see [DemoScenario] and testdata/basic.yaml), and scenario
// steps a demo needs (a failed payment, a dispute, an upcoming invoice) are
// available as methods on [Server] and as HTTP endpoints under /_fake/.
//
// Test cards follow Stripe's test numbers, keyed by the last four digits:
// 4242/4444/0005 succeed, 0002 and 0341 decline with generic_decline, 9995
// with insufficient_funds, 9987 lost_card, 9979 stolen_card, 0069
// expired_card, 0127 incorrect_cvc, 0119 processing_error. Like Stripe,
// attaching a declining card fails, except 0341 (pm_card_chargeCustomerFail),
// which attaches and then fails when charged.
//
// It is not a request-shape validator (stripe-mock does that): unknown
// parameters are ignored, and prorations, taxes and credit notes are not
// modelled.
package stripefake

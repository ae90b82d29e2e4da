package database

import "strings"

// CausalStage is one step of the order in which Stripe makes things happen
// within one billing happening. Stripe's created has whole-second
// resolution, so a renewal's ten events usually share one second, and
// webhooks arrive in any order: within a second, the inbox delivers a
// customer's events stage by stage, and by arrival within a stage.
type CausalStage struct {
	Name string
	// Types are exact event types or prefixes ending in "." (every type
	// under it). The longest match wins, so an exact type overrides a
	// prefix of another stage.
	Types []string
}

// causalStages is the one table of that order; docs/timeline.md shows it.
// A type that matches none comes after all of them (UnrankedCausalRank).
var causalStages = [...]CausalStage{
	{"customer", []string{"customer.created", "customer.updated", "customer.discount.", "customer.tax_id."}},
	{"payment method", []string{"payment_method.", "customer.source.", "setup_intent.", "mandate."}},
	{"subscription", []string{"customer.subscription.created", "subscription_schedule.", "invoiceitem."}},
	{"invoice created", []string{"invoice.created", "invoice.updated", "invoice.upcoming"}},
	{"invoice finalized", []string{"invoice.finalized", "invoice.finalization_failed", "invoice.sent"}},
	{"payment attempt", []string{"payment_intent.created", "payment_intent.processing", "payment_intent.requires_action"}},
	{"charge", []string{"charge.", "radar.early_fraud_warning.", "review."}},
	{"payment attempt outcome", []string{"payment_intent."}},
	{"invoice paid or failed", []string{"invoice."}},
	{"subscription updated", []string{"customer.subscription.", "checkout.session."}},
	{"refund or dispute", []string{"refund.", "charge.refunded", "charge.refund.", "charge.dispute.", "credit_note."}},
	{"customer deleted", []string{"customer.deleted"}},
}

// UnrankedCausalRank is the rank of types the table does not name.
const UnrankedCausalRank = len(causalStages) + 1

// CausalStages returns the order table, first stage first; a stage's rank
// is its index plus one.
func CausalStages() []CausalStage {
	return append([]CausalStage(nil), causalStages[:]...)
}

// CausalRank is where an event type falls in Stripe's causal order within
// one second: lower goes first.
func CausalRank(eventType string) int {
	rank, matched := UnrankedCausalRank, 0
	for i, stage := range causalStages {
		for _, pattern := range stage.Types {
			exact := pattern == eventType
			prefix := strings.HasSuffix(pattern, ".") && strings.HasPrefix(eventType, pattern)
			if (exact || prefix) && len(pattern) > matched {
				rank, matched = i+1, len(pattern)
			}
		}
	}
	return rank
}

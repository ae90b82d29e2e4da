package database_test

import (
	"strings"
	"testing"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestCausalRankTable(t *testing.T) {
	stages := database.CausalStages()
	for i, stage := range stages {
		for _, pattern := range stage.Types {
			typ := pattern
			if strings.HasSuffix(pattern, ".") {
				typ += "some_new_type"
			}
			t.Run(stage.Name+"/"+typ, func(t *testing.T) {
				// A pattern shadowed by a longer one of another stage would
				// never put its types where the table says.
				if got := database.CausalRank(typ); got != i+1 {
					t.Errorf("CausalRank(%q) = %d (%s), want %d (%s)", typ, got, stageName(stages, got), i+1, stage.Name)
				}
			})
		}
	}
	t.Run("unknown types come last", func(t *testing.T) {
		for _, typ := range []string{"payout.paid", "balance.available", "customer", ""} {
			if got := database.CausalRank(typ); got != database.UnrankedCausalRank {
				t.Errorf("CausalRank(%q) = %d, want %d", typ, got, database.UnrankedCausalRank)
			}
		}
	})
}

// TestCausalRankRenewal checks the order the issue names, as Stripe emits it
// for a checkout, a renewal and their refund.
func TestCausalRankRenewal(t *testing.T) {
	order := [][]string{
		{"customer.created", "customer.updated"},
		{"payment_method.attached", "payment_method.automatically_updated"},
		{"customer.subscription.created"},
		{"invoice.created"},
		{"invoice.finalized", "invoice.finalization_failed"},
		{"payment_intent.created", "payment_intent.requires_action"},
		{"charge.succeeded", "charge.failed"},
		{"payment_intent.succeeded", "payment_intent.payment_failed"},
		{"invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed", "invoice.payment_action_required"},
		{"customer.subscription.updated", "customer.subscription.deleted", "customer.subscription.pending_update_applied",
			"checkout.session.completed", "checkout.session.expired"},
		{"refund.created", "refund.updated", "charge.refunded", "charge.refund.updated", "charge.dispute.created"},
		{"customer.deleted"},
	}
	prev, prevType := 0, ""
	for _, group := range order {
		rank := database.CausalRank(group[0])
		if rank <= prev {
			t.Errorf("%s (rank %d) does not come after %s (rank %d)", group[0], rank, prevType, prev)
		}
		for _, typ := range group[1:] {
			if got := database.CausalRank(typ); got != rank {
				t.Errorf("%s has rank %d, want %d like %s", typ, got, rank, group[0])
			}
		}
		prev, prevType = rank, group[0]
	}
}

func stageName(stages []database.CausalStage, rank int) string {
	if rank < 1 || rank > len(stages) {
		return "unranked"
	}
	return stages[rank-1].Name
}

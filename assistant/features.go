package assistant

// feature adds weight to intent when every word in terms (space-separated,
// any order, anywhere in the message) is present. Co-occurrence rather than
// exact phrases is what lets "refund status" and "status of my refund" meet.
type feature struct {
	intent Intent
	terms  string
	weight float64
}

// Weights: 4 = the word alone settles it ("refund", "cancel"); 2.5–3 = a
// strong cue; 1–1.5 = supporting evidence; < 1 = a shared word that only
// breaks ties. Pair features carry the distinctions a single word cannot
// ("refund" + "where" is a status question, not a new request).
func featureTable() []feature {
	return []feature{
		// failed payment
		{IntentFailedPayment, "fail", 3},
		{IntentFailedPayment, "failure", 3},
		{IntentFailedPayment, "decline", 3.5},
		{IntentFailedPayment, "reject", 2.5},
		{IntentFailedPayment, "unsuccessful", 3},
		{IntentFailedPayment, "bounce", 3},
		{IntentFailedPayment, "insufficient", 3},
		{IntentFailedPayment, "error", 1.5},
		{IntentFailedPayment, "wrong", 1.5},
		{IntentFailedPayment, "didnt through", 2.5},
		{IntentFailedPayment, "not through", 2.5},
		{IntentFailedPayment, "not succeed", 2.5},
		{IntentFailedPayment, "didnt work", 2},
		{IntentFailedPayment, "card work", 2},
		{IntentFailedPayment, "couldnt charge", 2.5},
		{IntentFailedPayment, "cant charge", 2.5},
		{IntentFailedPayment, "why", 0.8},
		{IntentFailedPayment, "happened", 0.5},
		{IntentFailedPayment, "payment", 1},
		{IntentFailedPayment, "transaction", 1},
		{IntentFailedPayment, "card", 0.5},
		{IntentFailedPayment, "charge", 0.5},

		// next bill
		{IntentNextBill, "next", 2},
		{IntentNextBill, "renew", 2.5},
		{IntentNextBill, "upcoming", 2.5},
		{IntentNextBill, "upcoming invoice", 2.5},
		{IntentNextBill, "next invoice", 3},
		{IntentNextBill, "next payment", 1.5},
		{IntentNextBill, "when", 1},
		{IntentNextBill, "when charge", 1.5},
		{IntentNextBill, "when bill", 1.5},
		{IntentNextBill, "when pay", 1},
		{IntentNextBill, "date", 1},
		{IntentNextBill, "day charge", 2},
		{IntentNextBill, "day", 1},
		{IntentNextBill, "again", 1},
		{IntentNextBill, "how much", 1},
		{IntentNextBill, "bill", 1},

		// refund request
		{IntentRefundRequest, "refund", 3},
		{IntentRefundRequest, "money back", 4},
		{IntentRefundRequest, "reimburse", 4},
		{IntentRefundRequest, "charged twice", 2},
		{IntentRefundRequest, "refund want", 1},
		{IntentRefundRequest, "refund like", 1},
		{IntentRefundRequest, "refund can", 1},
		{IntentRefundRequest, "refund could", 1},
		{IntentRefundRequest, "refund please", 1},
		{IntentRefundRequest, "refund request", 1.5},
		{IntentRefundRequest, "refund get", 1},
		{IntentRefundRequest, "refund give", 1},
		{IntentRefundRequest, "refund possible", 1},

		// refund status: the refund already exists, the customer asks where
		{IntentRefundStatus, "refund status", 6},
		{IntentRefundStatus, "refund where", 6},
		{IntentRefundStatus, "refund received", 6},
		{IntentRefundStatus, "refund yet", 6},
		{IntentRefundStatus, "refund arrive", 6},
		{IntentRefundStatus, "refund processed", 6},
		{IntentRefundStatus, "refund long", 6},
		{IntentRefundStatus, "refund days", 5},
		{IntentRefundStatus, "refund come", 6},
		{IntentRefundStatus, "refund show", 5},
		{IntentRefundStatus, "refund issued", 6},
		{IntentRefundStatus, "refund sent", 6},
		{IntentRefundStatus, "refund send", 6},
		{IntentRefundStatus, "refund statement", 6},
		{IntentRefundStatus, "refund still", 2},
		{IntentRefundStatus, "refund havent", 2},
		{IntentRefundStatus, "refund not", 1},
		{IntentRefundStatus, "status", 1},

		// invoices
		{IntentInvoices, "invoice", 3},
		{IntentInvoices, "bill", 1},
		{IntentInvoices, "past", 1.5},
		{IntentInvoices, "history", 2.5},
		{IntentInvoices, "latest", 1},
		{IntentInvoices, "last", 0.5},
		{IntentInvoices, "last month", 1},
		{IntentInvoices, "copy", 1.5},
		{IntentInvoices, "pdf", 2.5},
		{IntentInvoices, "download", 1.5},
		{IntentInvoices, "list", 1.5},
		{IntentInvoices, "all", 0.5},
		{IntentInvoices, "did bill", 1},

		// receipt
		{IntentReceipt, "receipt", 4},
		{IntentReceipt, "proof payment", 3.5},
		{IntentReceipt, "proof", 1},

		// balance / amount due
		{IntentBalance, "owe", 3.5},
		{IntentBalance, "balance", 3.5},
		{IntentBalance, "amount due", 3},
		{IntentBalance, "due", 1},
		{IntentBalance, "outstanding", 3.5},
		{IntentBalance, "left pay", 2.5},
		{IntentBalance, "paid up", 3},
		{IntentBalance, "credit", 2},
		{IntentBalance, "unpaid", 3},
		{IntentBalance, "unpaid invoice", 2},
		{IntentBalance, "behind", 3},
		{IntentBalance, "how much", 1},
		{IntentBalance, "account", 0.5},

		// update payment method
		{IntentUpdatePayment, "update card", 3},
		{IntentUpdatePayment, "change card", 3},
		{IntentUpdatePayment, "payment method", 3},
		{IntentUpdatePayment, "method", 1},
		{IntentUpdatePayment, "expire", 3.5},
		{IntentUpdatePayment, "new card", 2.5},
		{IntentUpdatePayment, "credit card", 1},
		{IntentUpdatePayment, "add", 1},
		{IntentUpdatePayment, "replace", 2},
		{IntentUpdatePayment, "different card", 2.5},
		{IntentUpdatePayment, "other card", 2.5},
		{IntentUpdatePayment, "another card", 2.5},
		{IntentUpdatePayment, "bill detail", 2.5},
		{IntentUpdatePayment, "detail", 1},
		{IntentUpdatePayment, "address", 3},
		{IntentUpdatePayment, "sepa", 3},
		{IntentUpdatePayment, "bank account", 2},
		{IntentUpdatePayment, "file", 1.5},
		{IntentUpdatePayment, "update", 1.5},
		{IntentUpdatePayment, "change", 0.5},
		{IntentUpdatePayment, "card", 0.5},

		// cancel
		{IntentCancel, "cancel", 4},
		{IntentCancel, "unsubscribe", 4},
		{IntentCancel, "terminate", 3.5},
		{IntentCancel, "stop", 1.5},
		{IntentCancel, "stop subscription", 2},
		{IntentCancel, "stop payment", 1.5},
		{IntentCancel, "stop charge", 1.5},
		{IntentCancel, "end", 1.5},
		{IntentCancel, "close", 2.5},
		{IntentCancel, "dont renew", 4},
		{IntentCancel, "not renew", 4},
		{IntentCancel, "leave", 2},
		{IntentCancel, "leaving", 2},
		{IntentCancel, "recurring", 2},
		{IntentCancel, "anymore", 2},
		{IntentCancel, "membership", 1.5},

		// change plan
		{IntentChangePlan, "upgrade", 4},
		{IntentChangePlan, "downgrade", 4},
		{IntentChangePlan, "plan", 1},
		{IntentChangePlan, "switch", 1.5},
		{IntentChangePlan, "annual", 2},
		{IntentChangePlan, "monthly", 1},
		{IntentChangePlan, "cheaper", 2},
		{IntentChangePlan, "seat", 3},
		{IntentChangePlan, "premium", 2.5},
		{IntentChangePlan, "tier", 2.5},
		{IntentChangePlan, "pro", 2},
		{IntentChangePlan, "basic", 1.5},
		{IntentChangePlan, "move", 1},
		{IntentChangePlan, "change plan", 2.5},
		{IntentChangePlan, "change subscription", 2},
		{IntentChangePlan, "reduce", 1.5},

		// pause
		{IntentPause, "pause", 4},
		{IntentPause, "hold", 4},
		{IntentPause, "suspend", 4},
		{IntentPause, "freeze", 4},
		{IntentPause, "skip", 4},
		{IntentPause, "break", 3},
		{IntentPause, "temporarily", 3},
		{IntentPause, "resume", 3},
		{IntentPause, "few", 2},
		{IntentPause, "be back", 2},
		{IntentPause, "while", 1},
		{IntentPause, "summer", 1},
		{IntentPause, "month", 0.5},

		// dispute
		{IntentDispute, "dispute", 4},
		{IntentDispute, "chargeback", 4},
		{IntentDispute, "bank", 1.5},
		{IntentDispute, "investigate", 2.5},
		{IntentDispute, "recognise", 2.5},
		{IntentDispute, "contact bank", 1.5},

		// human
		{IntentHuman, "human", 4},
		{IntentHuman, "agent", 4},
		{IntentHuman, "person", 3.5},
		{IntentHuman, "someone", 3},
		{IntentHuman, "anyone help", 3},
		{IntentHuman, "speak", 2.5},
		{IntentHuman, "talk", 2.5},
		{IntentHuman, "representative", 4},
		{IntentHuman, "operator", 4},
		{IntentHuman, "manager", 3.5},
		{IntentHuman, "support", 2},
		{IntentHuman, "service", 1.5},
		{IntentHuman, "real", 1.5},
		{IntentHuman, "bot", 1.5},
		{IntentHuman, "connect", 1.5},
		{IntentHuman, "call", 1.5},
		{IntentHuman, "help", 1},

		// greeting
		{IntentGreeting, "hello", 3},
		{IntentGreeting, "hi", 3},
		{IntentGreeting, "hey", 3},
		{IntentGreeting, "heya", 3},
		{IntentGreeting, "hiya", 3},
		{IntentGreeting, "yo", 3},
		{IntentGreeting, "greetings", 3},
		{IntentGreeting, "morning", 3},
		{IntentGreeting, "afternoon", 3},
		{IntentGreeting, "evening", 3},

		// thanks
		{IntentThanks, "thanks", 3.5},
		{IntentThanks, "thank", 3.5},
		{IntentThanks, "cheers", 3},
		{IntentThanks, "appreciated", 3},
		{IntentThanks, "perfect", 1},
		{IntentThanks, "great", 1},
		{IntentThanks, "helped", 1},
		{IntentThanks, "bye", 1},
	}
}

// intentOrder is the fixed iteration order for scoring; earlier intents win
// exact ties, so the more actionable billing intents come first.
func intentOrder() []Intent {
	return []Intent{
		IntentFailedPayment, IntentRefundStatus, IntentRefundRequest, IntentDispute,
		IntentNextBill, IntentBalance, IntentInvoices, IntentReceipt,
		IntentUpdatePayment, IntentCancel, IntentPause, IntentChangePlan,
		IntentHuman, IntentGreeting, IntentThanks,
	}
}

package assistant

import (
	"fmt"
	"strings"
)

// msg names one message the assistant can say.
type msg int

// messages is one language's text for every msg.
type messages map[msg]string

// The messages, in the order of msgEN.
const (
	_ msg = iota
	mHandoff
	mHuman
	mLookupFailed
	mClosing
	mThanks
	mGreeting
	mSlowDown
	mTeamKnows
	mAskedAgent
	mLetKnow
	mAnd
	mOtherPerson
	mKnowledge
	mReplyYes
	mTooMany
	mNoFailed
	mFailed
	mPayOnline
	mPayOrPortal
	mPayOnly
	mRetryPortal
	mDeclineFunds
	mDeclineExpire
	mDeclineCVC
	mDeclineNumber
	mDeclineAuth
	mDeclineLost
	mDeclineLimit
	mDeclineError
	mDeclineBank
	mNoUpcoming
	mNextBill
	mPastDue
	mChangeWhat
	mPayOverdue
	mLinkPay
	mLinkView
	mLinkPDF
	mLinkReceipt
	mRefundDisputed
	mRefundDone
	mRefundNoSelf
	mRefundOffer
	mRefundNone
	mNoRefundAgent
	mNoRefundAsk
	mRefundSent
	mRefundOverdue
	mRefundOverdueRef
	mRefundPending
	mRefundFailed
	mNoInvoices
	mNoInvoicesMonth
	mLatestInvoices
	mInvoicesMonth
	mInvoiceLine
	mTaxInvoice
	mTaxID
	mReceipt
	mNoReceipt
	mStatusPaid
	mStatusOpen
	mStatusVoid
	mStatusDraft
	mStatusUncollect
	mStatusFailed
	mStatusPending
	mStatusRefunded
	mStatusPartRefund
	mNoPayments
	mNoPaymentsMonth
	mLatestOK
	mLatestFailed
	mLatestPending
	mRecentPayments
	mPaymentsMonth
	mPaymentLine
	mStatementCharges
	mStatementLine
	mCardEnding
	mUnrecognizedOffer
	mUnrecognizedNone
	mDoubleFound
	mDoubleRefund
	mDoubleAgent
	mDoubleNone
	mBilledAfterCancel
	mBilledAfterCancelNo
	mOweNothing
	mOwe
	mPayOnlineShort
	mCredit
	mDebitNext
	mUpdateAgent
	mUpdatePortal
	mNoSubCancel
	mAlreadyEnding
	mCancelAgent
	mCancelSelf
	mCurrentPlan
	mPlansList
	mPlanLine
	mPerMonth
	mPerYear
	mPerWeek
	mPerDay
	mChangeAgent
	mChangeSelf
	mPlanCurrent
	mPaused
	mPausedUntil
	mPausedAgent
	mNoSubPause
	mPauseAgent
	mDispute
	mDisputeOpen
	mDisputeReview
	mDisputeWon
	mDisputeLost
	mDisputeClosed
	mNoDispute
)

// catalog holds every language's messages.
var catalog = map[Lang]messages{LangEN: msgEN, LangDE: msgDE, LangES: msgES, LangFR: msgFR, LangPT: msgPT, LangIT: msgIT, LangNL: msgNL}

// T returns message m in lang, filled with args; a language without the
// message falls back to English, so a missing translation is never a blank.
func T(lang Lang, m msg, args ...any) string {
	s, ok := catalog[lang][m]
	if !ok {
		s = msgEN[m]
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// The bridge's own lines around an answer, in the customer's language.

// SlowDown tells a customer over the rate limit to wait.
func SlowDown(lang Lang) string { return T(lang, mSlowDown) }

// LookupFailed says the billing data could not be read and an agent will help.
func LookupFailed(lang Lang) string { return T(lang, mLookupFailed) }

// HumanReply says an agent was asked to join.
func HumanReply(lang Lang) string { return T(lang, mHuman) }

// TeamKnows answers a handoff that does not ping the agents again.
func TeamKnows(lang Lang) string { return T(lang, mTeamKnows) }

// HandoffLine says who was told: "I've let A, B and C know." names are
// already formatted (mention pills); none means the generic line.
func HandoffLine(lang Lang, names []string) string {
	switch n := len(names); n {
	case 0:
		return T(lang, mAskedAgent)
	case 1:
		return T(lang, mLetKnow, names[0])
	default:
		return T(lang, mLetKnow, strings.Join(names[:n-1], ", ")+" "+T(lang, mAnd)+" "+names[n-1])
	}
}

// Accepts reports whether a message is a whole "yes" in any supported
// language ("yes please", "ja gerne", "sí", "oui"), and in which.
func (e *Engine) Accepts(text string, hint Lang) (Lang, bool) {
	p := phrase(text)
	if p == "" {
		return "", false
	}
	lang := e.Read(text, hint).Lang
	if e.lex[lang].yes[p] {
		return lang, true
	}
	for _, l := range Languages {
		if e.lex[l].yes[p] {
			return l, true
		}
	}
	return lang, false
}

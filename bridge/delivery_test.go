package bridge

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/matrix-stripe/matrix-stripe/portal"
)

// An attempt's outcome decides whether the event is recorded, retried or
// given up on; an error of an attempt that was stopped from outside says
// nothing about the event.
func TestOutcome(t *testing.T) {
	transient := fmt.Errorf("send: %w", portal.ErrTransient)
	permanent := errors.New("render invoice.paid: data.object is not a JSON object")
	for _, tc := range []struct {
		name    string
		err     error
		res     *portal.Result
		stopped error
		cut     bool
		want    deliveryOutcome
	}{
		{"delivered", nil, &portal.Result{MatrixEventID: "$a"}, nil, false, outcomeDelivered},
		{"delivered while the claim was lost", nil, &portal.Result{MatrixEventID: "$a"}, errClaimLost, true, outcomeDelivered},
		{"skipped", nil, &portal.Result{Skipped: true}, nil, false, outcomeSkipped},
		{"taken over", context.Canceled, nil, errClaimLost, true, outcomeTakenOver},
		{"transient", transient, nil, nil, false, outcomeRetry},
		{"lease lapsing", context.Canceled, nil, errLeaseLapsing, true, outcomeRetry},
		{"timed out", context.DeadlineExceeded, nil, nil, true, outcomeRetry},
		{"permanent", permanent, nil, nil, false, outcomeFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := outcome(tc.err, tc.res, tc.stopped, tc.cut); got != tc.want {
				t.Errorf("outcome = %d, want %d", got, tc.want)
			}
		})
	}
}

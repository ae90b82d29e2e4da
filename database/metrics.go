package database

import (
	"context"
	"time"
)

// inboxDepthQuery counts the waiting events per account and state. The
// state filter keeps it to the claim index's (state, …) prefix: delivered
// and skipped events are kept for ever, and counting them would scan the
// whole history on every scrape.
const inboxDepthQuery = `
	SELECT account_id, state, COUNT(*), MIN(received_at)
	FROM stripe_event
	WHERE state IN ('pending', 'unresolved', 'failed')
	GROUP BY account_id, state
`

// InboxDepth is the number of inbox events of one account in one state.
type InboxDepth struct {
	AccountID string
	State     EventState
	Count     int64
	// OldestReceived is when the oldest of them arrived.
	OldestReceived time.Time
}

// Depth counts the inbox's waiting events (pending, unresolved, failed)
// per account and state, for /metrics. States with no event are left out.
func (eq *EventQuery) Depth(ctx context.Context) ([]InboxDepth, error) {
	rows, err := eq.GetDB().Query(ctx, inboxDepthQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []InboxDepth
	for rows.Next() {
		var d InboxDepth
		var oldest int64
		if err = rows.Scan(&d.AccountID, &d.State, &d.Count, &oldest); err != nil {
			return nil, err
		}
		d.OldestReceived = time.UnixMilli(oldest)
		out = append(out, d)
	}
	return out, rows.Err()
}

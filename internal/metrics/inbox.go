package metrics

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// inboxCollector reads the inbox depth from the database on each scrape,
// with one query: the depth is shared by every bridge process on the
// database, so a counter kept in memory by one of them could not tell it.
type inboxCollector struct {
	query    func(ctx context.Context) ([]InboxCount, error)
	accounts []string
	log      zerolog.Logger
	now      func() time.Time

	events *prometheus.Desc
	oldest *prometheus.Desc
	ok     *prometheus.Desc

	// warned keeps a database outage to one log line per outage, not one
	// per scrape.
	mu     sync.Mutex
	warned bool
}

func newInboxCollector(query func(ctx context.Context) ([]InboxCount, error), accounts []string, log zerolog.Logger) *inboxCollector {
	return &inboxCollector{
		query: query, accounts: accounts, log: log, now: time.Now,
		events: prometheus.NewDesc(namespace+"_inbox_events",
			"Inbox events still waiting, by account and state (pending, unresolved, failed). Shared by all processes on the database.",
			[]string{"account", "state"}, nil),
		oldest: prometheus.NewDesc(namespace+"_inbox_oldest_event_age_seconds",
			"Age of the oldest waiting inbox event (since it arrived), by account and state; 0 when there is none.",
			[]string{"account", "state"}, nil),
		ok: prometheus.NewDesc(namespace+"_inbox_query_success",
			"Whether this scrape's inbox query succeeded (1) or failed or timed out (0); the inbox series are missing when it failed.",
			nil, nil),
	}
}

func (c *inboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.oldest
	ch <- c.ok
}

func (c *inboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), InboxQueryTimeout)
	defer cancel()
	counts, err := c.query(ctx)
	c.mu.Lock()
	if err != nil && !c.warned {
		c.log.Warn().Err(err).Str("component", "metrics").Msg("Failed to count the inbox for /metrics")
	}
	c.warned = err != nil
	c.mu.Unlock()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.ok, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.ok, prometheus.GaugeValue, 1)

	states := inboxStates()
	type key struct{ account, state string }
	found := make(map[key]InboxCount, len(counts))
	for _, n := range counts {
		if slices.Contains(states, n.State) {
			found[key{n.Account, n.State}] = n
		}
	}
	// Every configured account and state, at zero if the query found none,
	// so an alert on a series sees 0 rather than nothing. Accounts only in
	// the database (removed from the config) are reported as they are: the
	// database holds few aliases, and their events still wait.
	for _, acct := range c.accounts {
		for _, state := range states {
			if _, ok := found[key{acct, state}]; !ok {
				found[key{acct, state}] = InboxCount{Account: acct, State: state}
			}
		}
	}
	now := c.now()
	for k, n := range found {
		age := 0.0
		if n.Count > 0 && !n.Oldest.IsZero() {
			age = max(now.Sub(n.Oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(n.Count), k.account, k.state)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, k.account, k.state)
	}
}

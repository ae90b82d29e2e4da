package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"maunium.net/go/mautrix/id"
)

// trigger is a scenario step the user can fire with curl.
type trigger struct {
	what string // what happens, in words
	path string // the fake's control endpoint, with real ids
}

// printBanner tells the user how to use the running demo. The box has no
// side borders on purpose: the curl lines are longer than most terminals
// are wide, and a border character would end up in every copied command.
func printBanner(ctx context.Context, w io.Writer, d *demo) {
	hsURL := clientURL(d.Homeserver.URL)
	fakeURL := d.Stripe.URL()
	bot := d.Config.BotMXID()
	rule := strings.Repeat("═", 78)

	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("")
	line(rule)
	line("  The matrix-stripe demo is running. Press Ctrl-C to stop it and clean up.")
	line("")
	line("  Homeserver   %s   (server name: %s)", hsURL, d.Homeserver.ServerName)
	for i, u := range demoUsers() {
		label := ""
		if i == 0 {
			label = "Logins"
		}
		line("  %-12s %-25s %s", label, u.localpart+" / "+password, u.role)
	}
	line("  Bridge bot   %s", bot)
	line("  Fake Stripe  %s   (API key %s)", fakeURL, apiKey)
	if d.Billing != nil {
		line("  Billing page %s   (the merchant's page with the web chat, as %s)", d.Billing.URL, demoWebChatName)
	}
	if d.Config.Panel.Enabled {
		line("  Dashboard    %s   (send dashboard to the bot for a sign-in link)", d.Config.Panel.DashboardURL())
	}
	line("")
	line("  Try it:")
	line("  1. In Element (https://app.element.io or the desktop app) or any Matrix")
	line("     client, set the homeserver to %s and log in as agent.", hsURL)
	line("  2. agent is invited to the %s space and the customer rooms.", d.Config.Stripe.Accounts[0].DisplayName)
	line("  3. Start a direct chat with %s and send: help", bot)
	line("  4. Log in as alice (a private window will do): she sees her own room only.")
	if d.Billing != nil {
		line("  5. Open the billing page, click the chat button and ask \"why did my payment")
		line("     fail?\"; answer as agent in Element and watch the reply arrive live.")
	}
	line("  6. In a customer room in Element, open the Billing widget beside the timeline:")
	line("     agent sees the customer's billing and acts on it (refund, cancel, credit…,")
	line("     each confirmed in the panel); alice sees \"for support staff\".")
	line("  7. Send dashboard to the bot and open the link: the inbox of every")
	line("     conversation, transcripts with exports, and the support figures.")
	line("")
	line("  More Stripe events (the fake sends the webhooks Stripe would send):")
	auth := "curl -X POST -H 'Authorization: Bearer " + apiKey + "' " + fakeURL
	if ts := triggers(ctx, d); len(ts) > 0 {
		for _, t := range ts {
			line("    # %s", t.what)
			line("    %s%s", auth, t.path)
		}
	} else {
		line("    # list the open invoices, then make a payment attempt on one fail")
		line("    curl -H 'Authorization: Bearer %s' '%s/v1/invoices?status=open'", apiKey, fakeURL)
		line("    %s/_fake/invoices/<invoice id>/payment_failure", auth)
	}
	line("")
	if d.keep {
		line("  Demo folder: %s (kept after exit)", d.Dir)
	} else {
		line("  Demo folder: %s (removed on exit; -keep keeps it)", d.Dir)
	}
	line(rule)
	_, _ = io.WriteString(w, b.String())
}

// clientURL is the homeserver address to give a Matrix client. Dendrite
// binds 127.0.0.1, which localhost reaches too, and localhost is what
// people type and what browsers let an https page like app.element.io call.
func clientURL(hsURL string) string {
	u, err := url.Parse(hsURL)
	if err != nil || u.Port() == "" {
		return hsURL
	}
	return "http://localhost:" + u.Port()
}

// triggers finds real ids in the fake for a few telling scenario steps. It
// asks the fake's API rather than repeating the scenario's ids, so the
// examples stay right if the scenario changes; a step whose object is not
// there is left out.
func triggers(ctx context.Context, d *demo) []trigger {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sc := d.Stripe.Client()
	list := stripe.ListParams{Context: ctx}

	names := map[string]string{}
	var linked *stripe.Customer
	linkKey := d.Config.Bridge.CustomerLinkKey
	customers := sc.Customers.List(&stripe.CustomerListParams{ListParams: list})
	for customers.Next() {
		c := customers.Customer()
		names[c.ID] = c.Name
		if linked == nil && id.UserID(c.Metadata[linkKey]) == id.NewUserID("alice", serverName) {
			linked = c
		}
	}
	if customers.Err() != nil {
		return nil
	}
	name := func(c *stripe.Customer) string {
		if c == nil {
			return "a customer"
		}
		if n := names[c.ID]; n != "" {
			return n
		}
		return c.ID
	}

	var out []trigger
	open := sc.Invoices.List(&stripe.InvoiceListParams{ListParams: list, Status: stripe.String("open")})
	if open.Next() {
		inv := open.Invoice()
		out = append(out,
			trigger{name(inv.Customer) + "'s open invoice: another payment attempt fails", "/_fake/invoices/" + inv.ID + "/payment_failure"},
			trigger{name(inv.Customer) + " pays the open invoice", "/_fake/invoices/" + inv.ID + "/pay"},
		)
	}
	if linked != nil {
		out = append(out, linkedTriggers(sc, list, linked, name(linked))...)
	}
	return out
}

// linkedTriggers are steps for the customer alice is linked to, so their
// effect shows in the one room alice can see.
func linkedTriggers(sc *client.API, list stripe.ListParams, c *stripe.Customer, name string) []trigger {
	var out []trigger
	charges := sc.Charges.List(&stripe.ChargeListParams{ListParams: list, Customer: stripe.String(c.ID)})
	for charges.Next() {
		ch := charges.Charge()
		if ch.Status == stripe.ChargeStatusSucceeded && !ch.Disputed {
			out = append(out, trigger{name + " disputes the latest charge", "/_fake/charges/" + ch.ID + "/dispute"})
			break
		}
	}
	subs := sc.Subscriptions.List(&stripe.SubscriptionListParams{ListParams: list, Customer: stripe.String(c.ID), Status: stripe.String("active")})
	if subs.Next() {
		sub := subs.Subscription()
		out = append(out,
			trigger{name + "'s upcoming renewal is announced", "/_fake/subscriptions/" + sub.ID + "/upcoming"},
			trigger{name + "'s subscription renews now (invoice, payment)", "/_fake/subscriptions/" + sub.ID + "/renew"},
		)
	}
	return out
}

package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/commands"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

const (
	searchLimit     = 10
	auditLimit      = 20
	syncProgressGap = 2 * time.Second
)

func managementCommands() []*Command {
	return []*Command{
		{Name: "accounts", Role: config.RoleAgent, Scope: ManagementOnly,
			Help: "Configured Stripe accounts, their mode and webhook health", Func: cmdAccounts},
		{Name: "search", Role: config.RoleAgent, Scope: ManagementOnly, Args: "<cus_…|email|name>",
			Help: "Find customers in every account", Func: cmdSearch},
		{Name: "open", Role: config.RoleAgent, Scope: ManagementOnly, Args: "<cus_…|email|name>",
			Help: "Open (or create) a customer's room and invite you", Func: cmdOpen},
		{Name: "panel", Role: config.RoleAgent, Scope: ManagementOnly, Args: "<cus_…|email|name>",
			Help: "A one-time link to a customer's agent panel in your browser", Func: cmdPanel},
		{Name: "dashboard", Role: config.RoleAgent, Scope: ManagementOnly,
			Help: "A one-time sign-in link to the support dashboard (inbox, transcripts, insights)", Func: cmdDashboard},
		{Name: "sync", Role: config.RoleAdmin, Scope: ManagementOnly, Args: "[account]",
			Help: "Create rooms for every customer of an account", Func: cmdSync},
		{Name: "audit", Role: config.RoleAgent, Scope: ManagementOnly, Args: "[cus_…|object id] [n]",
			Help: "Recent writes and refused writes (of a customer, or about one object)", Func: cmdAudit},
	}
}

func modeWord(live bool) string {
	if live {
		return "live"
	}
	return "test"
}

func cmdAccounts(ce *Event) {
	var b strings.Builder
	for _, acct := range ce.Meta.Config.Stripe.Accounts {
		fmt.Fprintf(&b, "* %s — %s (%s mode)", code(acct.Alias), plain(acct.DisplayName), modeWord(acct.Livemode))
		health, err := ce.Meta.Inbox.Health(ce.Ctx, acct.Alias)
		switch {
		case err != nil:
			ce.Log.Err(err).Str("account", acct.Alias).Msg("Failed to read inbox health")
			b.WriteString(": webhook health unknown")
		case health.LastReceived.IsZero():
			b.WriteString(": no webhook received yet")
		default:
			fmt.Fprintf(&b, ": last webhook %s ago", time.Since(health.LastReceived).Round(time.Second))
			if health.Pending > 0 {
				fmt.Fprintf(&b, ", %d waiting", health.Pending)
			}
			if health.Failed > 0 {
				fmt.Fprintf(&b, ", **%d failed** (see `failed`)", health.Failed)
			}
		}
		b.WriteString("\n")
	}
	ce.Reply("%s", b.String())
}

// found is one customer search hit.
type found struct {
	alias string
	cus   *stripe.Customer
}

// findCustomers searches every account; an account whose search fails is
// reported rather than silently missing from the results.
func findCustomers(ce *Event, query string) ([]found, []string) {
	var hits []found
	var problems []string
	for _, acct := range ce.Meta.Config.Stripe.Accounts {
		api := ce.Meta.API(acct.Alias)
		if api == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(ce.Ctx, readTimeout)
		customers, err := api.FindCustomers(ctx, query, searchLimit)
		cancel()
		if err != nil && !stripeapi.IsNotFound(err) {
			ce.Log.Warn().Err(err).Str("account", acct.Alias).Msg("Customer search failed")
			problems = append(problems, fmt.Sprintf("%s: %s", acct.Alias, stripeapi.Describe(err)))
			continue
		}
		for _, cus := range customers {
			hits = append(hits, found{alias: acct.Alias, cus: cus})
		}
	}
	return hits, problems
}

func queryArg(ce *Event, usage string) (string, bool) {
	query := strings.TrimSpace(ce.RawArgs)
	if query == "" {
		ce.Reply("Usage: %s", code(usage))
		return "", false
	}
	return query, true
}

func describeHit(h found) string {
	// A name of nothing but invisible characters is no name.
	name := plain(h.cus.Name)
	if name == "" {
		name = "(no name)"
	}
	line := code(h.cus.ID) + " " + name
	if email := plain(h.cus.Email); email != "" {
		line += " <" + email + ">"
	}
	return line + " — " + code(h.alias)
}

func cmdSearch(ce *Event) {
	query, ok := queryArg(ce, "search <cus_…|email|name>")
	if !ok {
		return
	}
	hits, problems := findCustomers(ce, query)
	var b strings.Builder
	if len(hits) == 0 {
		b.WriteString("No customer matches.")
	}
	for _, h := range hits {
		b.WriteString("* " + describeHit(h) + "\n")
	}
	for _, problem := range problems {
		b.WriteString("\n" + plain(problem))
	}
	ce.Reply("%s", b.String())
}

func cmdOpen(ce *Event) {
	portal := openOne(ce, "open <cus_…|email|name>")
	if portal == nil {
		return
	}
	ce.Reply("Invited you to the room of %s: https://matrix.to/#/%s", plain(portal.Name), portal.RoomID)
}

// cmdPanel sends a one-time link that opens the agent panel of a
// customer's room in a browser tab (outside Element's widget).
func cmdPanel(ce *Event) {
	if ce.Meta.PanelLink == nil {
		ce.Reply("The agent panel is not enabled on this bridge (%s in the config).", code("agent_panel"))
		return
	}
	portal := openOne(ce, "panel <cus_…|email|name>")
	if portal == nil {
		return
	}
	link, err := ce.Meta.PanelLink(ce.Ctx, ce.Sender, portal.RoomID)
	if err != nil {
		ce.Log.Err(err).Str("customer_id", portal.CustomerID).Msg("Failed to make a panel sign-in link")
		ce.Reply("Could not make a sign-in link; please try again.")
		return
	}
	ce.Reply("The panel of %s, signed in as you — the link works once, for 10 minutes; do not share it: %s", plain(portal.Name), link)
}

// openOne finds the one customer the query names and opens their room,
// inviting the sender; it answers and returns nil otherwise.
func openOne(ce *Event, usage string) *database.Portal {
	query, ok := queryArg(ce, usage)
	if !ok {
		return nil
	}
	hits, problems := findCustomers(ce, query)
	switch {
	case len(hits) == 0 && len(problems) > 0:
		ce.Reply("Could not search: %s", plain(strings.Join(problems, "; ")))
		return nil
	case len(hits) == 0:
		ce.Reply("No customer matches.")
		return nil
	case len(hits) > 1:
		var b strings.Builder
		b.WriteString("Several customers match; name one by id:\n")
		for _, h := range hits {
			b.WriteString("* " + describeHit(h) + "\n")
		}
		ce.Reply("%s", b.String())
		return nil
	}
	hit := hits[0]
	portal, err := ce.Meta.OpenRoom(ce.Ctx, hit.alias, hit.cus.ID, ce.Sender)
	if err != nil {
		ce.Log.Err(err).Str("customer_id", hit.cus.ID).Msg("Failed to open customer room")
		ce.Reply("Could not open the room for %s; please try again.", code(hit.cus.ID))
		return nil
	}
	return portal
}

func cmdSync(ce *Event) {
	accounts := ce.Meta.Config.Stripe.Accounts
	if len(ce.Args) > 0 {
		acct := ce.Meta.Config.Account(ce.Args[0])
		if acct == nil {
			ce.Reply("%s is not a configured account. See `accounts`.", code(ce.Args[0]))
			return
		}
		accounts = []config.AccountConfig{*acct}
	}
	progress := ce.Respond("Syncing customer rooms…", commands.ReplyOpts{AllowMarkdown: true, Reply: true})
	lastEdit := time.Now()
	var done, failed int
	report := func(final bool) {
		msg := fmt.Sprintf("Syncing customer rooms: %d done", done)
		if failed > 0 {
			msg += fmt.Sprintf(", %d failed (see logs)", failed)
		}
		if final {
			msg += ". Finished."
		} else {
			msg += "…"
		}
		if progress == "" {
			ce.Reply("%s", msg)
			return
		}
		ce.Respond(msg, commands.ReplyOpts{AllowMarkdown: true, Edit: progress})
	}
	for _, acct := range accounts {
		api := ce.Meta.API(acct.Alias)
		if api == nil {
			continue
		}
		err := api.EachCustomer(ce.Ctx, func(cus *stripe.Customer) error {
			if _, err := ce.Meta.OpenRoom(ce.Ctx, acct.Alias, cus.ID, ""); err != nil {
				ce.Log.Warn().Err(err).Str("customer_id", cus.ID).Msg("Sync failed for customer")
				failed++
			} else {
				done++
			}
			// One edited message instead of a flood of progress lines.
			if time.Since(lastEdit) > syncProgressGap {
				report(false)
				lastEdit = time.Now()
			}
			return ce.Ctx.Err()
		})
		if err != nil {
			ce.Log.Err(err).Str("account", acct.Alias).Msg("Sync stopped")
			ce.Reply("Sync of %s stopped: %s", code(acct.Alias), stripeapi.Describe(err))
		}
	}
	report(true)
}

func cmdAudit(ce *Event) {
	limit := auditLimit
	args := ce.Args
	var customerID, objectID string
	if len(args) > 0 {
		if strings.HasPrefix(args[0], "cus_") {
			customerID, args = args[0], args[1:]
		} else if _, ok := objectNoun(args[0]); ok {
			objectID, args = args[0], args[1:]
		}
	}
	if len(args) > 0 {
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 || n > 100 || len(args) > 1 {
			ce.Reply("Usage: `audit [cus_…|object id] [n]` with n from 1 to 100; an object id starts with %s.", acceptedPrefixes)
			return
		}
		limit = n
	}
	var entries []*database.AuditEntry
	var err error
	entries, err = auditFor(ce.Ctx, ce.Meta, customerID, objectID, limit)
	if err != nil {
		ce.Log.Err(err).Msg("Failed to read audit log")
		ce.Reply("Could not read the audit log; please try again.")
		return
	}
	if len(entries) == 0 {
		if about := customerID + objectID; about != "" {
			ce.Reply("Nothing in the audit log about %s.", code(about))
		} else {
			ce.Reply("Nothing in the audit log yet.")
		}
		return
	}
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(auditLine(e) + "\n")
	}
	ce.Reply("%s", b.String())
}

// cmdDashboard sends a one-time sign-in link to the support dashboard.
func cmdDashboard(ce *Event) {
	if ce.Meta.DashboardLink == nil {
		ce.Reply("The support dashboard is part of the agent panel, which is not enabled on this bridge (%s in the config).", code("agent_panel"))
		return
	}
	if len(ce.Args) > 0 {
		ce.Reply("Usage: %s takes no arguments.", code("dashboard"))
		return
	}
	link, err := ce.Meta.DashboardLink(ce.Ctx, ce.Sender)
	if err != nil {
		ce.Log.Err(err).Msg("Failed to make a dashboard sign-in link")
		ce.Reply("Could not make a sign-in link; please try again.")
		return
	}
	ce.Reply("The support dashboard, signed in as you — the link works once, for 10 minutes; do not share it: %s", link)
}

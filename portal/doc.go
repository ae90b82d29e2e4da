// Package portal owns the one Matrix room per (account, customer): creating
// and updating rooms, Spaces, invites and power levels, delivering billing
// events in order, and rendering them as Matrix messages.
//
// Every Stripe event type has one entry in one table (eventtypes.go): what
// the customer reads in their room, written for them (no event type names,
// Stripe ids, dashboard links or internal flags), and what agents read in
// the account's feed room (the type, ids, dashboard link, risk, decline
// codes, delinquency). Types with neither are posted nowhere.
//
// Besides database and stripeapi it reads config (see the import table in
// docs/architecture.md) for account names, dashboard links and agents to invite.
// Billing messages are sent by one ghost per account (@stripe_<alias>), so
// they are visibly from Stripe and not from the bot that answers commands.
package portal

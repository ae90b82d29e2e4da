package commands

// SubscriptionWriter changes subscriptions, balances and discounts (agent writes).
type SubscriptionWriter interface{}

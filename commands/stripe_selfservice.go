package commands

// SelfServiceAPI is what customer self-service needs (billing portal, customer metadata).
type SelfServiceAPI interface{}

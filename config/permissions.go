package config

import (
	"fmt"

	"maunium.net/go/mautrix/id"
)

// Role is what a Matrix user may do. Customers are not configured here: the
// customer role comes from the room's linked Stripe customer.
type Role string

const (
	RoleNone     Role = ""
	RoleCustomer Role = "customer"
	RoleAgent    Role = "agent"
	RoleAdmin    Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleAgent:
		return 2
	case RoleCustomer:
		return 1
	default:
		return 0
	}
}

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool {
	return r.rank() >= min.rank()
}

// Permissions maps an MXID, a server name or "*" to a configured role.
type Permissions map[string]Role

// Get resolves the most specific entry for userID: the full MXID, then its
// server name, then "*", as mautrix bridges do.
func (p Permissions) Get(userID id.UserID) Role {
	if role, ok := p[string(userID)]; ok {
		return role
	}
	if _, server, err := userID.Parse(); err == nil {
		if role, ok := p[server]; ok {
			return role
		}
	}
	return p["*"]
}

func (p Permissions) validate() error {
	for key, role := range p {
		if role != RoleAgent && role != RoleAdmin {
			return fmt.Errorf("bridge.permissions[%q]: %q is not a role (use agent or admin)", key, role)
		}
	}
	return nil
}

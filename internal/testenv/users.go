package testenv

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/synapseadmin"
)

// RegisterUser creates a user through shared-secret registration (the Synapse
// admin API that Dendrite also serves), the one way in while open
// registration is off, and returns a client logged in as that user. Dendrite
// rejects passwords shorter than 8 characters.
func (d *Dendrite) RegisterUser(ctx context.Context, localpart, password string, admin bool) (*mautrix.Client, error) {
	cli, err := mautrix.NewClient(d.URL, "", "")
	if err != nil {
		return nil, err
	}
	admCli := synapseadmin.Client{Client: cli}
	resp, err := admCli.SharedSecretRegister(ctx, d.SharedSecret, synapseadmin.ReqSharedSecretRegister{
		Username: localpart,
		Password: password,
		Admin:    admin,
	})
	if err != nil {
		return nil, fmt.Errorf("testenv: register %s: %w", localpart, err)
	}
	if resp.AccessToken == "" {
		return nil, fmt.Errorf("testenv: register %s: no access token in the response", localpart)
	}
	cli.UserID = resp.UserID
	cli.AccessToken = resp.AccessToken
	cli.DeviceID = resp.DeviceID
	return cli, nil
}

// Login logs an existing user in with a password and returns a client with a
// fresh device.
func (d *Dendrite) Login(ctx context.Context, localpart, password string) (*mautrix.Client, error) {
	cli, err := mautrix.NewClient(d.URL, "", "")
	if err != nil {
		return nil, err
	}
	_, err = cli.Login(ctx, &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: localpart},
		Password:         password,
		StoreCredentials: true,
	})
	if err != nil {
		return nil, fmt.Errorf("testenv: login %s: %w", localpart, err)
	}
	return cli, nil
}

// UserID returns the full Matrix ID of a local user.
func (d *Dendrite) UserID(localpart string) id.UserID {
	return id.NewUserID(localpart, d.ServerName)
}

package e2ee

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/goolm/libolmpickle"
	"maunium.net/go/mautrix/id"
)

// recoveryKeyName is the bridge_secret row of the recovery key.
const recoveryKeyName = "recovery_key"

// ErrSelfSign is why the device could not be cross-signed; the message
// says what the operator can do.
var ErrSelfSign = errors.New("cross-signing the bridge's device failed")

// selfSign makes the bot's device verified by its owner: on the first
// start it generates cross-signing keys and a recovery key (kept in the
// database, encrypted with the pickle key), on later starts it only checks,
// and after a new device it signs that device with the keys the recovery key
// unlocks from the homeserver's secret storage.
func (d *Device) selfSign(ctx context.Context) error {
	mach := d.helper.Machine()
	// The homeserver, not the local store, says whether keys exist: an
	// upload the homeserver refused leaves them in the store all the same.
	hasKeys, err := d.serverHasKeys(ctx)
	if err != nil {
		return err
	}
	if hasKeys {
		if _, err := mach.FetchKeys(ctx, []id.UserID{d.client.UserID}, true); err != nil {
			return fmt.Errorf("%w: fetch the bot's keys: %w", ErrSelfSign, err)
		}
	}
	_, deviceVerified, err := mach.GetOwnVerificationStatus(ctx)
	if err != nil {
		return fmt.Errorf("%w: check the bot's cross-signing status: %w", ErrSelfSign, err)
	}
	masterVerified, _, _, err := mach.GetOwnCrossSigningVerificationStatus(ctx)
	if err != nil {
		return fmt.Errorf("%w: check the bot's master key: %w", ErrSelfSign, err)
	}
	stored, err := d.recoveryKey(ctx)
	if err != nil {
		return err
	}
	log := d.opts.Log.With().Str("component", "crypto").Logger()
	switch {
	case !hasKeys:
		// A recovery key without keys on the server is from an upload that
		// failed half-way (a wrong password): nothing it unlocks exists, so
		// new keys replace it.
		key, _, err := mach.GenerateAndUploadCrossSigningKeys(ctx, d.passwordAuth, "")
		if key != "" {
			// Kept even when the upload failed after the secret storage
			// was written: the next start must be able to read it.
			if saveErr := d.saveRecoveryKey(ctx, key); saveErr != nil {
				return saveErr
			}
		}
		if err != nil {
			return fmt.Errorf("%w: upload cross-signing keys: %w (on Dendrite, set the bot's password with the admin API and put it in encryption.bot_password)", ErrSelfSign, err)
		}
		if err := d.signOwn(ctx); err != nil {
			return err
		}
		log.Info().Msg("Generated cross-signing keys and a recovery key; the bot's device is signed")
	case !deviceVerified || !masterVerified:
		if stored == "" {
			return fmt.Errorf("%w: the homeserver holds cross-signing keys for the bot but this database has no recovery key for them; restore the database's bridge_secret table, or turn encryption.self_sign off", ErrSelfSign)
		}
		if err := mach.VerifyWithRecoveryKey(ctx, stored); err != nil {
			return fmt.Errorf("%w: unlock the cross-signing keys with the stored recovery key: %w", ErrSelfSign, err)
		}
		log.Info().Msg("Signed the bot's device with the stored recovery key")
	}
	return nil
}

// serverHasKeys reports whether the homeserver holds a master key for the bot.
func (d *Device) serverHasKeys(ctx context.Context) (bool, error) {
	bot := d.client.UserID
	resp, err := d.client.QueryKeys(ctx, &mautrix.ReqQueryKeys{DeviceKeys: mautrix.DeviceKeysRequest{bot: mautrix.DeviceIDList{}}})
	if err != nil {
		return false, fmt.Errorf("%w: ask the homeserver for the bot's cross-signing keys: %w", ErrSelfSign, err)
	}
	_, ok := resp.MasterKeys[bot]
	return ok, nil
}

func (d *Device) signOwn(ctx context.Context) error {
	mach := d.helper.Machine()
	if err := mach.SignOwnDevice(ctx, mach.OwnIdentity()); err != nil {
		return fmt.Errorf("%w: sign the bot's device: %w", ErrSelfSign, err)
	}
	if err := mach.SignOwnMasterKey(ctx); err != nil {
		return fmt.Errorf("%w: sign the bot's master key with its device: %w", ErrSelfSign, err)
	}
	return nil
}

// passwordAuth answers the homeserver's user-interactive authentication
// for the key upload: Dendrite wants the account password; without one
// the upload is tried unauthenticated (Synapse lets a first upload
// through).
func (d *Device) passwordAuth(resp *mautrix.RespUserInteractive) any {
	if d.opts.BotPassword == "" {
		return nil
	}
	return &mautrix.ReqUIAuthLogin{
		BaseAuthData: mautrix.BaseAuthData{Type: mautrix.AuthTypePassword, Session: resp.Session},
		User:         d.client.UserID.String(),
		Password:     d.opts.BotPassword,
	}
}

// recoveryKey returns the stored recovery key, or "".
func (d *Device) recoveryKey(ctx context.Context) (string, error) {
	var pickled string
	err := d.opts.DB.QueryRow(ctx, `SELECT value FROM bridge_secret WHERE name=$1`, recoveryKeyName).Scan(&pickled)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("read the recovery key: %w", err)
	}
	key, err := libolmpickle.Unpickle([]byte(d.opts.PickleKey), []byte(pickled))
	if err != nil {
		return "", fmt.Errorf("%w: the stored recovery key does not open with this pickle key: %w", ErrSelfSign, err)
	}
	return string(key), nil
}

func (d *Device) saveRecoveryKey(ctx context.Context, key string) error {
	pickled, err := libolmpickle.Pickle([]byte(d.opts.PickleKey), []byte(key))
	if err != nil {
		return fmt.Errorf("encrypt the recovery key: %w", err)
	}
	_, err = d.opts.DB.Exec(ctx, `INSERT INTO bridge_secret (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value=excluded.value`, recoveryKeyName, string(pickled))
	if err != nil {
		return fmt.Errorf("store the recovery key: %w", err)
	}
	return nil
}

// CrossSigned reports whether the bot's device carries its own
// self-signing key's signature, as clients check it.
func (d *Device) CrossSigned(ctx context.Context) (bool, error) {
	if !d.held.Load() {
		return false, nil
	}
	_, verified, err := d.helper.Machine().GetOwnVerificationStatus(ctx)
	return verified, err
}

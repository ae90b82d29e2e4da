package bridge

import (
	"context"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/e2ee"
	"github.com/matrix-stripe/matrix-stripe/panel"
)

// initPanel mounts the agent panel on the appservice listener when it is
// enabled.
func (br *Bridge) initPanel() {
	if !br.Config.Panel.Enabled {
		return
	}
	br.Panel = panel.New(panel.Options{
		Config: br.Config,
		DB:     br.DB,
		Billing: func(alias string) panel.Billing {
			// Not the *Client itself: a nil one would be a non-nil interface.
			if client := br.stripeClient(alias); client != nil {
				return client
			}
			return nil
		},
		VerifyOpenID: panel.OpenIDVerifier(br.AS.HTTPClient, br.Config.Homeserver.Address, br.Config.Homeserver.Domain),
		Act:          br.Commands.Panel,
		Messages:     br.roomMessages,
		RoleIn:       br.roleIn,
		ProcessID:    br.processPrefix(),
		Log:          br.Log.With().Str("component", "panel").Logger(),
	})
	br.AS.Router.Handle(panel.Prefix, br.Panel)
	br.AS.Router.HandleFunc(panel.DashboardPrefix, br.Panel.ServeDashboard)
}

// roomMessages reads a room's last limit events from the homeserver,
// oldest first, for the dashboard's transcripts.
func (br *Bridge) roomMessages(ctx context.Context, room id.RoomID, limit int) ([]*event.Event, error) {
	var out []*event.Event
	from := ""
	for len(out) < limit {
		resp, err := br.Bot.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, min(limit-len(out), 500))
		if err != nil {
			return nil, err
		}
		for _, evt := range resp.Chunk {
			// In an encrypted room the transcript is what the bridge's
			// device can read; what it cannot stays m.room.encrypted.
			evt = e2ee.Readable(ctx, br.Bot.Client, evt)
			if evt.Type == event.EventMessage {
				_ = evt.Content.ParseRaw(evt.Type)
			}
			out = append(out, evt)
		}
		if resp.End == "" || len(resp.Chunk) == 0 {
			break
		}
		from = resp.End
	}
	slices.Reverse(out)
	return out, nil
}

// roomChanged refreshes the room's open panels: something happened in it.
func (br *Bridge) roomChanged(ctx context.Context, evt *event.Event) {
	if br.Panel != nil {
		br.Panel.Changed(ctx, evt.RoomID)
	}
}

// panelWidgetEvery is how soon a room whose widget could not be set when
// it was made gets it.
const panelWidgetEvery = 30 * time.Second

// panelWidgetLoop gives every customer room the panel widget (or removes it
// once the panel is turned off): on start for the rooms that exist, then —
// while the panel is on — for rooms whose widget could not be set when they
// were made. Each room is written to once per change.
func (br *Bridge) panelWidgetLoop(ctx context.Context) {
	log := br.Log.With().Str("component", "panel").Logger()
	ctx = log.WithContext(ctx)
	if !br.Config.Panel.Enabled {
		// Rooms made while it is off get no widget: one pass removes the
		// widgets of an earlier run, and there is nothing to retry.
		br.updatePanelWidgets(ctx, "")
		return
	}
	url := br.Config.Panel.WidgetURL()
	ticker := time.NewTicker(panelWidgetEvery)
	defer ticker.Stop()
	for {
		br.updatePanelWidgets(ctx, url)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (br *Bridge) updatePanelWidgets(ctx context.Context, url string) {
	log := zerolog.Ctx(ctx)
	updated := 0
	for ctx.Err() == nil {
		portals, err := br.DB.Portal.PanelWidgetOutdated(ctx, url, 100)
		if ctx.Err() != nil {
			return // shutting down: the next start finishes the pass
		} else if err != nil {
			log.Warn().Err(err).Msg("Failed to list the rooms whose panel widget is out of date")
			return
		}
		if len(portals) == 0 {
			break
		}
		for _, p := range portals {
			if err = br.Portal.SetPanelWidget(ctx, p, url); ctx.Err() != nil {
				return
			} else if err != nil {
				// Tried again on the next pass; the others go on.
				log.Warn().Err(err).Str("room_id", p.RoomID.String()).Msg("Failed to update the room's panel widget")
				return
			}
			updated++
		}
	}
	if updated > 0 {
		log.Info().Int("rooms", updated).Bool("panel_enabled", url != "").Msg("Updated the panel widget of customer rooms")
	}
}

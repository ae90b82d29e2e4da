package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/localstack"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

// The fault tests run the built binary as child processes and break things
// for real: SIGKILL of the bridge, a homeserver gone for half a minute, two
// bridges on one database. Sizes keep each test within a couple of minutes
// on two cores once claims of a dead process are released within seconds.
const (
	faultCustomers   = 20
	faultPerCustomer = 50 // 1,000 events in all
	// faultPerSecond events of one customer share a Stripe `created`
	// second; they are posted in shuffled order within it.
	faultPerSecond = 5
	// faultPace spaces one customer's posts so that the burst is still
	// arriving while the faults happen, as a real backlog would.
	faultPace = 700 * time.Millisecond
	// faultSettle bounds the wait for every event to be delivered after
	// the last fault. It covers a lease of a killed process (2 minutes
	// before short leases) plus the backoff of a homeserver outage.
	faultSettle = 3 * time.Minute
	// envFaultBinary names a bridge binary to break instead of one built
	// from this tree: to measure an older build with the same tests.
	envFaultBinary = "MATRIX_STRIPE_TEST_BRIDGE_BINARY"
)

// faultRig is the peers of one fault test: fake Stripe, Dendrite, a fresh
// PostgreSQL database and the built bridge binary with its config.
type faultRig struct {
	cfg       *config.Config
	cfgPath   string
	bin       string
	dir       string
	hs        *testenv.Dendrite
	fake      *stripefake.Server
	db        *sql.DB
	customers []string
}

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	if testing.Short() {
		t.Skip("fault test: runs the bridge binary, Dendrite and PostgreSQL and kills them (run without -short)")
	}
	// Opt-in (`make faults`): together they take about four minutes on two
	// cores, and their settle bounds assume they have the machine, which
	// they do not among `go test ./...`'s packages run side by side (one
	// run squeezed that way took 2m49s of its 3m).
	if os.Getenv("MATRIX_STRIPE_FAULTS") == "" {
		t.Skip("fault test: set MATRIX_STRIPE_FAULTS=1 (make faults) to run it")
	}
	t0 := time.Now()
	uri := dbtest.PostgresURI(t)
	fake := newFake(t)
	dir := t.TempDir()
	cfg, regPath, err := localstack.Build(localstack.Options{
		Dir: dir, StripeURL: fake.URL(), APIKey: "sk_test_123", WebhookSecret: webhookSecret,
		DatabaseType: "postgres", DatabaseURI: uri,
		Agents: []id.UserID{"@agent:localhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logging.MinLevel = "debug"
	// The burst is posted by the test, not by the fake: catch-up must not
	// add the fake's own customer.created events to the rooms.
	cfg.Stripe.Accounts[0].CatchupEvents = []string{"charge.succeeded"}
	// Queues on disk, as in production: the homeserver test kills Dendrite,
	// and an in-memory queue loses events Dendrite has already answered
	// 200 for (see DurableJetStream), which no real homeserver does.
	hs := testenv.DendriteServer(t, testenv.DendriteOptions{AppserviceRegistrations: []string{regPath}, DurableJetStream: true})
	cfg.Homeserver.Address = hs.URL
	db, err := sql.Open("postgres", uri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	r := &faultRig{cfg: cfg, bin: bridgeBinary(t), dir: dir, hs: hs, fake: fake, db: db}
	t.Cleanup(func() { r.keepLogs(t) })
	r.cfgPath = r.writeConfig(t, cfg, "config.yaml")
	t.Logf("peers up and bridge built after %s", time.Since(t0).Round(time.Second))
	for i := range faultCustomers {
		cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String(fmt.Sprintf("Fault Customer %02d", i))})
		if err != nil {
			t.Fatal(err)
		}
		r.customers = append(r.customers, cus.ID)
	}
	return r
}

func (r *faultRig) writeConfig(t *testing.T, cfg *config.Config, name string) string {
	t.Helper()
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(r.dir, name)
	if err = os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// bridgeProc is one running bridge binary.
type bridgeProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// spawn starts the binary on cfgPath, appending its log to name.log, and
// waits until it serves /ready on address.
func (r *faultRig) spawn(t *testing.T, cfgPath, address, name string) *bridgeProc {
	t.Helper()
	logPath := filepath.Join(r.dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "--- fault test: starting %s at %s\n", name, time.Now().Format(time.RFC3339Nano))
	p := &bridgeProc{cmd: exec.Command(r.bin, "-c", cfgPath, "-n"), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err = p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			if log, err := os.ReadFile(logPath); err == nil {
				t.Logf("%s log tail:\n%s", name, lastLines(string(log), 30))
			}
		}
	})
	waitFor(t, 60*time.Second, name+" ready", func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("%s exited during start: %v", name, p.cmd.ProcessState)
		default:
		}
		resp, err := http.Get(address + "/_matrix/mau/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

// kill9 ends the process the way a power cut or the OOM killer would.
// stop ends the process as systemd would: SIGINT, and after 15 s SIGKILL.
// A process that already exited is left as it is.
func (p *bridgeProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *bridgeProc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// faultEvent is one charge.succeeded of the burst. Its amount is unique in
// the burst: the fact that identifies it in a room when the message has no
// event-id marker.
type faultEvent struct {
	id       string
	customer string
	created  int64
	amount   int64
}

func (e faultEvent) payload() []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2023-10-16","created":%d,"type":"charge.succeeded","livemode":false,
"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},
"data":{"object":{"id":"ch_%s","object":"charge","amount":%d,"amount_captured":%[4]d,"captured":true,"currency":"usd","customer":%q,
"status":"succeeded","paid":true,"payment_method_details":{"type":"card","card":{"brand":"visa","last4":"4242"}},
"receipt_url":"https://pay.stripe.com/receipts/fault"}}}`, e.id, e.created, strings.TrimPrefix(e.id, "evt_"), e.amount, e.customer)
}

// planBurst returns each customer's events in the order they will be
// posted, which is the order their room must show: created ascending,
// shuffled within one created second (arrival then decides). Ids are
// random, so neither id nor amount order can pass for the right one.
func planBurst(customers []string, perCustomer int, rng *rand.Rand) map[string][]faultEvent {
	base := time.Now().Unix() - int64(perCustomer/faultPerSecond) - 60
	plan := map[string][]faultEvent{}
	for ci, cus := range customers {
		events := make([]faultEvent, perCustomer)
		for k := range events {
			events[k] = faultEvent{
				id:       fmt.Sprintf("evt_fault%016x", rng.Uint64()),
				customer: cus,
				created:  base + int64(k/faultPerSecond),
				amount:   100_000 + int64(ci)*1000 + int64(k),
			}
		}
		for start := 0; start < len(events); start += faultPerSecond {
			second := events[start:min(start+faultPerSecond, len(events))]
			rng.Shuffle(len(second), func(i, j int) { second[i], second[j] = second[j], second[i] })
		}
		plan[cus] = events
	}
	return plan
}

// burst posts a plan as Stripe would: customers concurrently, each
// customer's events one after another, every refused or unanswered post
// retried until the bridge answers 200 (Stripe retries for days).
type burst struct {
	plan    map[string][]faultEvent
	targets []string // webhook URLs; each post picks one at random
	posted  atomic.Int64
	retries atomic.Int64
	wg      sync.WaitGroup
	errs    chan error
}

func startBurst(ctx context.Context, plan map[string][]faultEvent, targets []string) *burst {
	b := &burst{plan: plan, targets: targets, errs: make(chan error, len(plan))}
	client := &http.Client{Timeout: 10 * time.Second}
	for cus, events := range plan {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for _, e := range events {
				payload := e.payload()
				for attempt := 0; ; attempt++ {
					if ctx.Err() != nil {
						b.errs <- fmt.Errorf("%s: stopped at %s: %w", cus, e.id, ctx.Err())
						return
					}
					target := b.targets[rand.IntN(len(b.targets))]
					if postTo(ctx, client, target, payload) == nil {
						break
					}
					b.retries.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
				b.posted.Add(1)
				time.Sleep(faultPace)
			}
		}()
	}
	return b
}

// wait returns once every event was accepted.
func (b *burst) wait(t *testing.T) {
	t.Helper()
	b.wg.Wait()
	close(b.errs)
	for err := range b.errs {
		t.Error(err)
	}
}

func postTo(ctx context.Context, client *http.Client, url string, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Stripe-Signature", stripefake.SignatureHeader(payload, webhookSecret, time.Now()))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

// inbox counts the bridge's inbox rows by state.
func (r *faultRig) inbox(ctx context.Context) (map[string]int, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM stripe_event GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err = rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		counts[state] = n
	}
	return counts, rows.Err()
}

// claimed counts the events a worker holds right now: the deliveries a
// kill cuts short.
func (r *faultRig) claimed(t *testing.T) int {
	t.Helper()
	var n int
	if err := r.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM stripe_event WHERE state='pending' AND claimed_until > $1`,
		time.Now().UnixMilli()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitInbox polls the inbox until cond holds.
func (r *faultRig) waitInbox(t *testing.T, timeout time.Duration, what string, cond func(map[string]int) bool) {
	t.Helper()
	waitFor(t, timeout, what, func() (bool, string) {
		counts, err := r.inbox(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return cond(counts), fmt.Sprint(counts)
	})
}

// waitSettled waits until every event of the plan is delivered and none is
// left in another state.
func (r *faultRig) waitSettled(t *testing.T, total int) {
	t.Helper()
	r.waitInbox(t, faultSettle, fmt.Sprintf("all %d events delivered", total), func(c map[string]int) bool {
		return c["delivered"] == total && len(c) == 1
	})
}

// faultFigures is what a fault test measured in the rooms.
type faultFigures struct {
	events, lost, duplicated, orderViolations, unknown int
	byMarker, byAmount                                 int
}

// checkRooms reads every customer's room as the agent and compares it with
// the plan: each event exactly once, in the planned order. It also checks
// the plan against the inbox's own order, so a failure says which side
// is wrong.
func (r *faultRig) checkRooms(t *testing.T, agent *mautrix.Client, plan map[string][]faultEvent) faultFigures {
	t.Helper()
	ghost := r.cfg.GhostMXID("main")
	byAmount := map[int64]string{}
	var fig faultFigures
	for _, events := range plan {
		for _, e := range events {
			byAmount[e.amount] = e.id
			fig.events++
		}
	}
	for _, cus := range r.customers {
		want := plan[cus]
		if inboxOrder := r.inboxOrder(t, cus); !equalOrder(inboxOrder, want) {
			t.Errorf("%s: the inbox orders the customer's events differently from their arrival: %d of %d in place",
				cus, inPlace(inboxOrder, want), len(want))
		}
		var room id.RoomID
		if err := r.db.QueryRowContext(t.Context(), `SELECT room_id FROM portal WHERE account_id='main' AND customer_id=$1`, cus).Scan(&room); err != nil {
			t.Errorf("%s has no room: %v", cus, err)
			fig.lost += len(want)
			continue
		}
		// After an outage the agent's invite may wait for the invite
		// retry loop (every 30 s, with backoff).
		waitFor(t, 2*time.Minute, "the agent invited to "+cus+"'s room", func() (bool, string) {
			_, err := agent.JoinRoomByID(t.Context(), room)
			return err == nil, fmt.Sprint(err)
		})
		var seen []string
		var how map[string]int
		var unknown []string
		var copies map[string][]*event.Event
		// Dendrite's /messages trails its send path by a moment; a room
		// that stays short is counted below, not fatal here.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			seen, how, unknown, copies = seen[:0], map[string]int{}, unknown[:0], map[string][]*event.Event{}
			for _, evt := range allMessages(t, agent, room) {
				if evt.Sender != ghost {
					continue
				}
				stripeID, by := identify(evt, byAmount)
				how[by]++
				if by == "" {
					unknown = append(unknown, evt.Content.AsMessage().Body)
					continue
				}
				seen = append(seen, stripeID)
				copies[stripeID] = append(copies[stripeID], evt)
			}
			if len(seen) >= len(want) || time.Now().After(deadline) {
				break
			}
		}
		fig.byMarker += how["marker"]
		fig.byAmount += how["amount"]
		fig.unknown += len(unknown)
		for _, body := range unknown {
			t.Logf("%s: a message that names no event of the burst: %q", cus, body)
		}
		lost, dups, violations := compareRoom(seen, want)
		fig.lost += lost
		fig.duplicated += len(dups)
		fig.orderViolations += violations
		if lost+len(dups)+violations > 0 {
			t.Errorf("%s's room: %d lost, %d duplicated, %d out of order (%d messages for %d events)", cus, lost, len(dups), violations, len(seen), len(want))
		}
		if lost > 0 {
			r.explainLost(t, agent, room, seen, want)
		}
		for _, stripeID := range dups {
			r.explainDuplicate(t, cus, stripeID, copies[stripeID])
		}
	}
	return fig
}

// explainDuplicate says when each copy reached the homeserver and what
// the inbox recorded about the attempts, so that the bridge log can be read
// against it: which attempt looked for the marker, when, and what it saw.
func (r *faultRig) explainDuplicate(t *testing.T, cus, stripeID string, copies []*event.Event) {
	t.Helper()
	var attempts int
	var firstClaimed, deliveredAt sql.NullInt64
	var mxID sql.NullString
	_ = r.db.QueryRowContext(t.Context(), `SELECT attempts, first_claimed_at, delivered_at, matrix_event_id FROM stripe_event WHERE event_id=$1`,
		stripeID).Scan(&attempts, &firstClaimed, &deliveredAt, &mxID)
	var lines []string
	for _, evt := range copies {
		lines = append(lines, fmt.Sprintf("%s at %s", evt.ID, time.UnixMilli(evt.Timestamp).Format("15:04:05.000")))
	}
	t.Errorf("%s is in %s's room %d times (%d delivery attempts, first claimed %s, delivered %s as %s): %s",
		stripeID, cus, len(copies), attempts, time.UnixMilli(firstClaimed.Int64).Format("15:04:05.000"),
		time.UnixMilli(deliveredAt.Int64).Format("15:04:05.000"), mxID.String, strings.Join(lines, ", "))
}

// keepLogs copies the logs of a failed run (bridge processes, Dendrite)
// out of the test's temporary folders, which are removed when it ends;
// MATRIX_STRIPE_FAULT_KEEP_LOGS=1 keeps those of a passing run too.
func (r *faultRig) keepLogs(t *testing.T) {
	t.Helper()
	if !t.Failed() && os.Getenv("MATRIX_STRIPE_FAULT_KEEP_LOGS") != "1" {
		return
	}
	dest := filepath.Join(os.TempDir(), "matrix-stripe-faults", t.Name()+"-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Logf("keep logs: %v", err)
		return
	}
	logs, _ := filepath.Glob(filepath.Join(r.dir, "*.log"))
	logs = append(logs, r.hs.LogPath)
	for _, src := range logs {
		raw, err := os.ReadFile(src)
		if err == nil {
			err = os.WriteFile(filepath.Join(dest, filepath.Base(src)), raw, 0o644)
		}
		if err != nil {
			t.Logf("keep logs: %v", err)
		}
	}
	t.Logf("logs of this run kept in %s", dest)
}

// explainLost says, per event missing from the room, what the inbox
// recorded and whether the homeserver still has that Matrix event.
func (r *faultRig) explainLost(t *testing.T, agent *mautrix.Client, room id.RoomID, seen []string, want []faultEvent) {
	t.Helper()
	shown := map[string]bool{}
	for _, stripeID := range seen {
		shown[stripeID] = true
	}
	for _, e := range want {
		if shown[e.id] {
			continue
		}
		var state string
		var attempts int
		var mxID sql.NullString
		_ = r.db.QueryRowContext(t.Context(), `SELECT state, attempts, matrix_event_id FROM stripe_event WHERE event_id=$1`, e.id).Scan(&state, &attempts, &mxID)
		_, err := agent.GetEvent(t.Context(), room, id.EventID(mxID.String))
		t.Errorf("%s is not in the room: inbox says %s after %d attempts as %q; the homeserver's answer for that event: %v; %s",
			e.id, state, attempts, mxID.String, err, r.whereInDendrite(mxID.String))
	}
}

// whereInDendrite says which of Dendrite's own databases hold a Matrix
// event: the roomserver stores an event before the send is answered, the
// sync API (which serves /messages and /event) only once it has consumed
// the roomserver's output queue. Stored in the first but not the second
// means Dendrite lost the queued output, not that the bridge never sent.
func (r *faultRig) whereInDendrite(eventID string) string {
	if eventID == "" {
		return "no Matrix event id to look for"
	}
	var found []string
	for _, place := range []struct{ file, table string }{
		{"roomserver.db", "roomserver_events"},
		{"syncapi.db", "syncapi_output_room_events"},
	} {
		db, err := sql.Open("sqlite3", "file:"+filepath.Join(r.hs.Dir, place.file)+"?mode=ro")
		if err != nil {
			found = append(found, fmt.Sprintf("%s: %v", place.file, err))
			continue
		}
		var n int
		err = db.QueryRow(`SELECT COUNT(*) FROM `+place.table+` WHERE event_id=?`, eventID).Scan(&n)
		_ = db.Close()
		if err != nil {
			found = append(found, fmt.Sprintf("%s: %v", place.file, err))
		} else {
			found = append(found, fmt.Sprintf("%s has it %d times", place.table, n))
		}
	}
	return "in Dendrite's databases: " + strings.Join(found, ", ")
}

// identify names the Stripe event a message shows: by the marker in its
// content, else (a build from before the marker, see envFaultBinary) by the
// amount in its body.
func identify(evt *event.Event, byAmount map[int64]string) (stripeID, how string) {
	var content map[string]any
	if err := json.Unmarshal(evt.Content.VeryRaw, &content); err == nil {
		if marker, ok := content[portal.MarkerEventKey].(string); ok && marker != "" {
			return marker, "marker"
		}
	}
	body := evt.Content.AsMessage().Body
	if m := amountPattern.FindStringSubmatch(body); m != nil {
		cents, err := strconv.ParseInt(strings.ReplaceAll(m[1], ",", "")+m[2], 10, 64)
		if stripeID, ok := byAmount[cents]; err == nil && ok {
			return stripeID, "amount"
		}
	}
	return "", ""
}

var amountPattern = regexp.MustCompile(`\$([0-9,]+)\.([0-9]{2})`)

// compareRoom counts the planned events the room lacks, the extra copies
// it shows, and the first copies that come before an event planned earlier.
func compareRoom(seen []string, want []faultEvent) (lost int, duplicated []string, violations int) {
	pos := map[string]int{}
	for i, e := range want {
		pos[e.id] = i
	}
	count := map[string]int{}
	last := -1
	for _, stripeID := range seen {
		count[stripeID]++
		if count[stripeID] > 1 {
			duplicated = append(duplicated, stripeID)
			continue
		}
		p, ok := pos[stripeID]
		if !ok {
			continue
		}
		if p < last {
			violations++
		}
		last = max(last, p)
	}
	for _, e := range want {
		if count[e.id] == 0 {
			lost++
		}
	}
	return lost, duplicated, violations
}

func (r *faultRig) inboxOrder(t *testing.T, customer string) []string {
	t.Helper()
	rows, err := r.db.QueryContext(t.Context(), `SELECT event_id FROM stripe_event WHERE account_id='main' AND customer_id=$1
ORDER BY created, causal_rank, arrival_seq`, customer)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var stripeID string
		if err := rows.Scan(&stripeID); err != nil {
			t.Fatal(err)
		}
		out = append(out, stripeID)
	}
	return out
}

func equalOrder(got []string, want []faultEvent) bool {
	return len(got) == len(want) && inPlace(got, want) == len(want)
}

func inPlace(got []string, want []faultEvent) int {
	n := 0
	for i := range min(len(got), len(want)) {
		if got[i] == want[i].id {
			n++
		}
	}
	return n
}

// allMessages pages through the whole room, oldest first.
func allMessages(t testing.TB, cli *mautrix.Client, room id.RoomID) []*event.Event {
	t.Helper()
	var out []*event.Event
	from := ""
	for {
		resp, err := cli.Messages(t.Context(), room, from, "", mautrix.DirectionBackward, nil, 500)
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		for _, evt := range resp.Chunk {
			if evt.Type == event.EventMessage {
				_ = evt.Content.ParseRaw(evt.Type)
				out = append(out, evt)
			}
		}
		if len(resp.Chunk) == 0 || resp.End == "" || resp.End == from {
			break
		}
		from = resp.End
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// checkOneRoomEach compares the bot's rooms on the homeserver with the
// bridge's records: one room per customer, one Space and at most one feed
// room, and no room the database does not know (an orphan of a crash or a
// race between processes).
func (r *faultRig) checkOneRoomEach(t *testing.T, wantFeed bool) {
	t.Helper()
	recorded := map[id.RoomID]string{}
	rows, err := r.db.QueryContext(t.Context(), `SELECT customer_id, room_id FROM portal WHERE account_id='main' AND room_id IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var cus string
		var room id.RoomID
		if err = rows.Scan(&cus, &room); err != nil {
			t.Fatal(err)
		}
		recorded[room] = cus
	}
	rows.Close()
	if len(recorded) != len(r.customers) {
		t.Errorf("%d customer rooms recorded for %d customers", len(recorded), len(r.customers))
	}
	var space, feed sql.NullString
	if err = r.db.QueryRowContext(t.Context(), `SELECT space_room_id, feed_room_id FROM stripe_account WHERE id='main'`).Scan(&space, &feed); err != nil {
		t.Fatal(err)
	}
	if !space.Valid || space.String == "" {
		t.Error("no Space recorded")
	}
	recorded[id.RoomID(space.String)] = "space"
	if wantFeed != (feed.Valid && feed.String != "") {
		t.Errorf("feed room recorded: %q, want one: %v", feed.String, wantFeed)
	}
	if feed.Valid && feed.String != "" {
		recorded[id.RoomID(feed.String)] = "feed"
	}
	bot, err := mautrix.NewClient(r.hs.URL, r.cfg.BotMXID(), r.cfg.AppService.ASToken)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := bot.JoinedRooms(t.Context())
	if err != nil {
		t.Fatalf("the bot's joined rooms: %v", err)
	}
	for _, room := range joined.JoinedRooms {
		if _, ok := recorded[room]; !ok {
			var name event.RoomNameEventContent
			var alias event.CanonicalAliasEventContent
			_ = bot.StateEvent(t.Context(), room, event.StateRoomName, "", &name)
			_ = bot.StateEvent(t.Context(), room, event.StateCanonicalAlias, "", &alias)
			t.Errorf("the bot is in %s (%q, alias %q), a room the bridge has not recorded", room, name.Name, alias.Alias)
		}
	}
	if len(joined.JoinedRooms) != len(recorded) {
		t.Errorf("the bot is in %d rooms, the bridge recorded %d", len(joined.JoinedRooms), len(recorded))
	}
}

func (fig faultFigures) report(t *testing.T, what string, start time.Time) {
	t.Helper()
	t.Logf("%s: %d events over %d customers: %d lost, %d duplicated, %d out of order; identified by marker %d, by amount %d, unidentified %d; %s",
		what, fig.events, faultCustomers, fig.lost, fig.duplicated, fig.orderViolations, fig.byMarker, fig.byAmount, fig.unknown,
		time.Since(start).Round(time.Second))
	if fig.lost+fig.duplicated+fig.orderViolations > 0 {
		t.Errorf("%s: want 0 lost, 0 duplicated, 0 out of order", what)
	}
}

// TestKillNineMidBurst kills the bridge process with SIGKILL three times
// while a burst of 1,000 events is arriving and being delivered, restarts
// it each time, and expects every event in its customer's room exactly
// once, in order.
func TestKillNineMidBurst(t *testing.T) {
	start := time.Now()
	r := newFaultRig(t)
	agent, err := r.hs.RegisterUser(t.Context(), "agent", password, false)
	if err != nil {
		t.Fatal(err)
	}
	webhook := r.cfg.AppService.Address + "/stripe/webhook/main"
	proc := r.spawn(t, r.cfgPath, r.cfg.AppService.Address, "bridge")
	rng := rand.New(rand.NewPCG(1, 9))
	plan := planBurst(r.customers, faultPerCustomer, rng)
	total := faultCustomers * faultPerCustomer
	ctx, cancel := context.WithTimeout(t.Context(), faultSettle)
	defer cancel()
	b := startBurst(ctx, plan, []string{webhook})

	const kills = 3
	var killedAt []string
	for k := range kills {
		// Each run delivers some events of its own before it dies, so a
		// kill lands amid sends, and pending events remain for the next.
		var before int
		if counts, err := r.inbox(t.Context()); err == nil {
			before = counts["delivered"]
		}
		r.waitInbox(t, 2*time.Minute, fmt.Sprintf("kill %d: deliveries under way and events pending", k+1), func(c map[string]int) bool {
			return c["delivered"] >= before+total/20 && c["pending"] > 0
		})
		// Then the moment a worker holds a claim, a little into its
		// attempt: a kill amid a send is the one that can post twice.
		claimed := 0
		for deadline := time.Now().Add(10 * time.Second); claimed == 0 && time.Now().Before(deadline); {
			if claimed = r.claimed(t); claimed == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		counts, _ := r.inbox(t.Context())
		proc.kill9(t)
		killedAt = append(killedAt, fmt.Sprintf("kill %d: %d of %d posted, %d claimed, %v", k+1, b.posted.Load(), total, claimed, counts))
		proc = r.spawn(t, r.cfgPath, r.cfg.AppService.Address, "bridge")
	}
	b.wait(t)
	r.waitSettled(t, total)
	for _, line := range killedAt {
		t.Log(line)
	}
	t.Logf("webhook posts refused or unanswered while the bridge was down: %d", b.retries.Load())
	fig := r.checkRooms(t, agent, plan)
	r.checkOneRoomEach(t, false)
	fig.report(t, fmt.Sprintf("%d × kill -9", kills), start)
}

// TestHomeserverDownMidBurst stops Dendrite with SIGKILL for 30 seconds
// while a burst is being delivered and expects the same outcome once it is
// back: nothing lost, nothing twice, order kept. Dendrite runs with its
// queues on disk (newFaultRig), as in production: with in-memory queues it
// forgets events it already answered 200 for (stored by its roomserver,
// never reaching the sync API that serves /messages), a loss of the test
// setup that no bridge can see or repair.
func TestHomeserverDownMidBurst(t *testing.T) {
	start := time.Now()
	r := newFaultRig(t)
	agent, err := r.hs.RegisterUser(t.Context(), "agent", password, false)
	if err != nil {
		t.Fatal(err)
	}
	r.spawn(t, r.cfgPath, r.cfg.AppService.Address, "bridge")
	// Half the kill test's burst: the outage and the backoff after it
	// cost a minute of their own.
	const perCustomer = faultPerCustomer / 2
	plan := planBurst(r.customers, perCustomer, rand.New(rand.NewPCG(2, 9)))
	total := faultCustomers * perCustomer
	ctx, cancel := context.WithTimeout(t.Context(), faultSettle)
	defer cancel()
	b := startBurst(ctx, plan, []string{r.cfg.AppService.Address + "/stripe/webhook/main"})

	r.waitInbox(t, 2*time.Minute, "deliveries under way and events pending", func(c map[string]int) bool {
		return c["delivered"] >= total/10 && c["pending"] > 0
	})
	counts, _ := r.inbox(t.Context())
	if err = syscall.Kill(r.hs.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("homeserver killed at %d posted, %v", b.posted.Load(), counts)
	time.Sleep(30 * time.Second)
	counts, _ = r.inbox(t.Context())
	t.Logf("homeserver back after 30 s: %d posted, %v", b.posted.Load(), counts)
	if err = r.hs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.wait(t)
	r.waitSettled(t, total)
	fig := r.checkRooms(t, agent, plan)
	r.checkOneRoomEach(t, false)
	fig.report(t, "homeserver down 30 s", start)
}

// TestTwoBridgeProcessesOneDatabase runs two bridge processes on one
// PostgreSQL database and posts each webhook to either of them, customers'
// first events and customerless events racing: one room per customer, one
// Space and one feed room must come out, and every event once, in order.
func TestTwoBridgeProcessesOneDatabase(t *testing.T) {
	start := time.Now()
	r := newFaultRig(t)
	agent, err := r.hs.RegisterUser(t.Context(), "agent", password, false)
	if err != nil {
		t.Fatal(err)
	}
	second := onFreePort(t, r.cfg)
	secondPath := r.writeConfig(t, second, "config-second.yaml")
	r.spawn(t, r.cfgPath, r.cfg.AppService.Address, "bridge-1")
	r.spawn(t, secondPath, second.AppService.Address, "bridge-2")
	targets := []string{r.cfg.AppService.Address + "/stripe/webhook/main", second.AppService.Address + "/stripe/webhook/main"}

	// Events of no customer go to the feed room: both processes get some
	// at once, before the feed room exists.
	const payouts = 10
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for i := range payouts {
		wg.Go(func() {
			payload := fmt.Appendf(nil, `{"id":"evt_fault_payout_%02d","object":"event","api_version":"2023-10-16","created":%d,"type":"payout.paid","livemode":false,
"data":{"object":{"id":"po_fault_%02d","object":"payout","amount":%d,"currency":"usd","status":"paid"}}}`, i, time.Now().Unix(), i, 5000+i)
			if err := postTo(t.Context(), client, targets[i%2], payload); err != nil {
				t.Errorf("payout %d: %v", i, err)
			}
		})
	}
	const perCustomer = 20
	plan := planBurst(r.customers, perCustomer, rand.New(rand.NewPCG(3, 9)))
	total := faultCustomers*perCustomer + payouts
	b := startBurst(t.Context(), plan, targets)
	wg.Wait()
	b.wait(t)
	t.Logf("burst posted after %s", time.Since(start).Round(time.Second))
	r.waitSettled(t, total)
	t.Logf("inbox settled after %s", time.Since(start).Round(time.Second))
	fig := r.checkRooms(t, agent, plan)
	r.checkOneRoomEach(t, true)
	fig.report(t, "two bridge processes", start)
}

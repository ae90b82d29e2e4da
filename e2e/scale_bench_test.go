package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"
	"gopkg.in/yaml.v3"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/localstack"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

// The scale benchmarks run the real bridge binary as a child process on
// PostgreSQL, with the fake Stripe and a homeserver that answers every
// request at once (fakeHomeserver): what they measure is the bridge's own
// start-up and memory, not its peers'. Memory is the child's, from
// /proc/PID/status. MATRIX_STRIPE_TEST_BRIDGE_BINARY runs another build
// (an older one, to compare).

const (
	// scaleRooms is how many customer rooms BenchmarkStartup maps.
	scaleRooms = 100_000
	// scaleIdle is how long a started bridge is left alone before its idle
	// memory is read: every background loop has made its first pass.
	scaleIdle = 5 * time.Second
	// envScaleLogs names a folder to keep the bridge processes' logs in.
	envScaleLogs = "MATRIX_STRIPE_BENCH_LOGS"
	// The targets of issue 13.
	startupTarget = time.Second
	rssTargetMiB  = 64
)

// BenchmarkStartup measures, per start of the binary, the time from exec
// to /_matrix/mau/ready answering 200 (database opened and upgraded,
// homeserver and Stripe key checked — both peers answer at once — and
// every loop started), and the resident memory scaleIdle later, with no
// customer room and with scaleRooms mapped (portal rows with their rooms,
// as after a `sync`; inserted directly). x-target-startup is 1 s over the
// median start-up, x-target-rss 64 MiB over the median idle RSS.
func BenchmarkStartup(b *testing.B) {
	for _, rooms := range []int{0, scaleRooms} {
		b.Run(fmt.Sprintf("rooms=%d", rooms), func(b *testing.B) {
			r := newScaleRig(b, newFake(b))
			r.mapRooms(b, "cus_room_", rooms)
			var startups []time.Duration
			var rss, hwm, anon []float64
			b.ResetTimer()
			for range b.N {
				p, took := r.spawn(b)
				b.StopTimer()
				time.Sleep(scaleIdle)
				status := procStatus(b, p.cmd.Process.Pid)
				p.stop()
				b.StartTimer()
				startups = append(startups, took)
				rss = append(rss, status["VmRSS"])
				anon = append(anon, status["RssAnon"])
				hwm = append(hwm, status["VmHWM"])
			}
			b.StopTimer()
			startup := medianOf(startups)
			b.ReportMetric(float64(startup)/float64(time.Millisecond), "startup-ms")
			b.ReportMetric(float64(startupTarget)/float64(startup), "x-target-startup")
			b.ReportMetric(medianOf(rss), "idle-rss-MiB")
			b.ReportMetric(medianOf(hwm), "peak-rss-MiB")
			// The process's own memory; the rest of RSS is pages of the
			// binary (and libc), which vary by a few MiB with its layout.
			b.ReportMetric(medianOf(anon), "idle-anon-MiB")
			b.ReportMetric(rssTargetMiB/medianOf(rss), "x-target-rss")
		})
	}
}

// BenchmarkCatchUp starts the binary on a backlog of about 50,000 events
// in the fake Stripe (1,000 customers with seven paid invoices each over
// the last week, seeded through the fake's own billing code: about 2.4 KB
// per event) that arrived while the bridge was down, and measures the
// catch-up (listing every event and storing it in the inbox, while the
// delivery workers post them into the customers' rooms) and the peak
// resident memory of the process (VmHWM) by its end. x-target is 64 MiB
// over the peak; first-delivery-s is when the first missed event was in
// its room, from exec. Each op is one start; -benchtime 1x.
func BenchmarkCatchUp(b *testing.B) {
	const customers, invoices = 1000, 7
	fake := stripefake.New(stripefake.Options{APIKeys: []string{"sk_test_123"}, Account: stripefake.Account{Name: "Demo Shop"}, Seed: 13})
	if err := fake.LoadScenario(strings.NewReader(backlogScenario(customers, invoices))); err != nil {
		b.Fatal(err)
	}
	if err := fake.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = fake.Close() })
	backlog := len(fake.Events())
	var took, peak, first []float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r := newScaleRig(b, fake)
		r.mapRooms(b, "cus_backlog_", customers)
		// Down since before the backlog began.
		if err := r.db.Account.SetCatchupCursor(context.Background(), "main", "", time.Now().Add(-10*24*time.Hour)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p, _ := r.spawn(b)
		done := p.waitLog(b, 10*time.Minute, "Catch-up finished")
		b.StopTimer()
		status := procStatus(b, p.cmd.Process.Pid)
		var firstDelivered int64
		err := r.db.QueryRow(context.Background(), `SELECT COALESCE(MIN(delivered_at), 0) FROM stripe_event`).Scan(&firstDelivered)
		if err != nil {
			b.Fatal(err)
		}
		p.stop()
		if done.New != backlog {
			b.Fatalf("catch-up stored %d new events of a backlog of %d", done.New, backlog)
		}
		if firstDelivered > 0 {
			first = append(first, time.UnixMilli(firstDelivered).Sub(p.started).Seconds())
		}
		took = append(took, done.Took/1000)
		peak = append(peak, status["VmHWM"])
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(backlog), "events")
	b.ReportMetric(medianOf(took), "catchup-s")
	b.ReportMetric(float64(backlog)/medianOf(took), "events/s")
	b.ReportMetric(medianOf(peak), "peak-rss-MiB")
	b.ReportMetric(rssTargetMiB/medianOf(peak), "x-target")
	if len(first) > 0 {
		b.ReportMetric(medianOf(first), "first-delivery-s")
	}
}

// backlogScenario is a stripefake scenario of customers, 8 days old, with
// n paid one-off invoices each, a day apart, the newest an hour old.
func backlogScenario(customers, n int) string {
	var sb strings.Builder
	sb.WriteString("customers:\n")
	for i := range customers {
		fmt.Fprintf(&sb, "  - id: cus_backlog_%06d\n    name: Backlog Customer %d\n    email: backlog%d@example.com\n", i, i, i)
		sb.WriteString("    age: 8d\n    card: {brand: visa, last4: \"4242\"}\n    invoices:\n")
		for j := range n {
			fmt.Fprintf(&sb, "      - {amount: %d, age: %dh, status: paid, description: Plan}\n", 1000+100*j, 1+24*j)
		}
	}
	return sb.String()
}

// scaleRig is one bridge config on a PostgreSQL database of its own, with
// the fake Stripe and fakeHomeserver, and the binary to run on it.
type scaleRig struct {
	bin, dir, cfgPath string
	cfg               *config.Config
	db                *database.Database
}

func newScaleRig(b *testing.B, fake *stripefake.Server) *scaleRig {
	b.Helper()
	if testing.Short() {
		b.Skip("scale benchmark: runs the bridge binary on PostgreSQL (run without -short)")
	}
	uri := dbtest.PostgresURI(b)
	dir := b.TempDir()
	cfg, _, err := localstack.Build(localstack.Options{
		Dir: dir, StripeURL: fake.URL(), APIKey: "sk_test_123", WebhookSecret: webhookSecret,
		DatabaseType: "postgres", DatabaseURI: uri,
	})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Homeserver.Address = newFakeHomeserver(b, cfg).URL
	cfg.Logging.MinLevel, cfg.Logging.Format = "info", "json"
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	r := &scaleRig{bin: bridgeBinary(b), dir: dir, cfg: cfg, cfgPath: filepath.Join(dir, "config.yaml")}
	if err = os.WriteFile(r.cfgPath, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	// The schema, as a bridge that ran before left it.
	rawDB, err := dbutil.NewWithDialect(uri, "postgres")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rawDB.Close() }) // before PostgresURI's drop
	r.db = database.New(rawDB)
	ctx := context.Background()
	if err = r.db.Upgrade(ctx); err != nil {
		b.Fatal(err)
	}
	if err = r.db.Account.Upsert(ctx, &database.Account{ID: "main", DisplayName: "Demo Shop"}); err != nil {
		b.Fatal(err)
	}
	return r
}

// mapRooms inserts n portals of customers prefix000000…, each with a room,
// in one statement.
func (r *scaleRig) mapRooms(b *testing.B, prefix string, n int) {
	b.Helper()
	if n == 0 {
		return
	}
	_, err := r.db.Exec(context.Background(), `
		INSERT INTO portal (account_id, customer_id, room_id, name, email, created_at, updated_at)
		SELECT 'main', $1 || lpad((g - 1)::text, 6, '0'), '!scale' || g || ':localhost',
		       'Customer ' || g, 'customer' || g || '@example.com', $2, $2
		FROM generate_series(1, $3::int) g`, prefix, time.Now().UnixMilli(), n)
	if err != nil {
		b.Fatal(err)
	}
	if _, err = r.db.Exec(context.Background(), `ANALYZE portal`); err != nil {
		b.Fatal(err)
	}
}

// scaleProc is one running bridge binary.
type scaleProc struct {
	bridgeProc
	logPath string
	started time.Time
}

// spawn starts the binary and returns once /_matrix/mau/ready answers 200,
// with how long that took from exec.
func (r *scaleRig) spawn(b *testing.B) (*scaleProc, time.Duration) {
	b.Helper()
	logDir := r.dir
	if keep := os.Getenv(envScaleLogs); keep != "" {
		logDir = keep
	}
	p := &scaleProc{bridgeProc: bridgeProc{done: make(chan struct{})}, logPath: filepath.Join(logDir, fmt.Sprintf("bridge-%d.log", time.Now().UnixNano()))}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	p.cmd = exec.Command(r.bin, "-c", r.cfgPath, "-n")
	p.cmd.Dir = r.dir
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	p.started = start
	if err = p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	b.Cleanup(func() { p.stop() })
	for deadline := start.Add(time.Minute); ; {
		select {
		case <-p.done:
			b.Fatalf("bridge exited during start: %v\n%s", p.cmd.ProcessState, p.tail())
		default:
		}
		resp, err := client.Get(r.cfg.AppService.Address + "/_matrix/mau/ready")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, time.Since(start)
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("bridge not ready after a minute\n%s", p.tail())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// catchupDone is the "Catch-up finished" log line.
type catchupDone struct {
	Listed int     `json:"listed"`
	New    int     `json:"new"`
	Took   float64 `json:"took"` // milliseconds
}

// waitLog waits for the first log line with message msg.
func (p *scaleProc) waitLog(b *testing.B, timeout time.Duration, msg string) catchupDone {
	b.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-p.done:
			b.Fatalf("bridge exited: %v\n%s", p.cmd.ProcessState, p.tail())
		default:
		}
		f, err := os.Open(p.logPath)
		if err != nil {
			b.Fatal(err)
		}
		scanner := bufio.NewScanner(f)
		scanner.Buffer(nil, 1<<20)
		for scanner.Scan() {
			var line struct {
				Message string `json:"message"`
				catchupDone
			}
			if json.Unmarshal(scanner.Bytes(), &line) == nil && line.Message == msg {
				f.Close()
				return line.catchupDone
			}
		}
		f.Close()
	}
	b.Fatalf("no %q in the log after %s\n%s", msg, timeout, p.tail())
	return catchupDone{}
}

func (p *scaleProc) tail() string {
	raw, _ := os.ReadFile(p.logPath)
	return lastLines(string(raw), 30)
}

// procStatus reads the memory lines (Vm…, Rss…) of /proc/PID/status, in
// MiB.
func procStatus(b *testing.B, pid int) map[string]float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(key, "Vm") && !strings.HasPrefix(key, "Rss") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err == nil {
			out[key] = kb / 1024
		}
	}
	return out
}

func medianOf[T int64 | float64 | time.Duration](values []T) T {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// newFakeHomeserver answers the bridge's client-server and appservice
// requests at once: whoami as the bot, every write with a new event or
// room id, the few reads the bridge needs an answer to with an empty one,
// and every other read with M_NOT_FOUND.
func newFakeHomeserver(b *testing.B, cfg *config.Config) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		path := r.URL.Path
		reply := func(v any) { _ = json.NewEncoder(w).Encode(v) }
		switch {
		case strings.HasSuffix(path, "/versions"):
			reply(map[string]any{"versions": []string{"v1.1", "v1.2", "v1.3"}})
		case strings.HasSuffix(path, "/account/whoami"):
			user := r.URL.Query().Get("user_id")
			if user == "" {
				user = cfg.BotMXID().String()
			}
			reply(map[string]any{"user_id": user})
		case strings.HasSuffix(path, "/register"):
			reply(map[string]any{"user_id": "@registered:" + cfg.Homeserver.Domain})
		case strings.HasSuffix(path, "/joined_members"):
			reply(map[string]any{"joined": map[string]any{}})
		case strings.HasSuffix(path, "/joined_rooms"):
			reply(map[string]any{"joined_rooms": []string{}})
		case strings.HasSuffix(path, "/messages") || strings.HasSuffix(path, "/members"):
			reply(map[string]any{"chunk": []any{}})
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusNotFound)
			reply(map[string]any{"errcode": "M_NOT_FOUND", "error": "not found"})
		default:
			i := n.Add(1)
			room := fmt.Sprintf("!fake%d:%s", i, cfg.Homeserver.Domain)
			if _, joined, ok := strings.Cut(path, "/join/"); ok {
				room = joined
			}
			reply(map[string]any{"event_id": fmt.Sprintf("$fake%d", i), "room_id": room})
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

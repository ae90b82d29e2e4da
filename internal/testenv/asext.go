package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/id"
)

// ASExtensions is a front for Dendrite that adds the appservice extensions
// for encryption which Synapse has behind experimental flags and Dendrite
// lacks, so the bridge's use of them is tested against a real homeserver's
// crypto: MSC4190 (the appservice creates its bot's device with PUT
// /devices/{id}), MSC3202 device masquerading (the appservice token plus
// org.matrix.msc3202.device_id acts as that device), and pushing the
// device's to-device messages (MSC2409), device-list changes and one-time
// key counts (MSC3202) to the appservice in transactions. Everything else
// passes through to Dendrite untouched.
//
// A created device is a real Dendrite device, made by appservice login
// with the requested id; the front reads that device's /sync and forwards
// what it gets, with the unstable field names Synapse uses, the way
// Synapse's appservice scheduler would.
type ASExtensions struct {
	URL string

	upstream *url.URL
	proxy    *httputil.ReverseProxy
	reg      *appservice.Registration
	bot      id.UserID
	srv      *http.Server

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	devices map[id.DeviceID]string // the bot's created devices and their Dendrite tokens

	txnSeq       atomic.Int64
	pushedToDev  atomic.Int64
	asDeviceSync atomic.Int64
}

var devicePath = regexp.MustCompile(`^/_matrix/client/(?:v3|r0)/devices/([^/]+)$`)

// StartASExtensions serves the front on a free loopback port. upstream is
// Dendrite's URL; reg the appservice's registration (tokens, bot, and the
// URL transactions go to).
func StartASExtensions(upstream string, serverName string, reg *appservice.Registration) (*ASExtensions, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	x := &ASExtensions{
		URL:      "http://" + l.Addr().String(),
		upstream: u,
		proxy:    httputil.NewSingleHostReverseProxy(u),
		reg:      reg,
		bot:      id.NewUserID(reg.SenderLocalpart, serverName),
		devices:  map[id.DeviceID]string{},
	}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	x.srv = &http.Server{Handler: x, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = x.srv.Serve(l) }()
	return x, nil
}

// Close stops the front and its device syncs.
func (x *ASExtensions) Close() error {
	x.cancel()
	err := x.srv.Close()
	x.wg.Wait()
	return err
}

// PushedToDevice counts the to-device messages pushed in transactions.
func (x *ASExtensions) PushedToDevice() int64 { return x.pushedToDev.Load() }

// DeviceSyncs counts /sync requests the appservice made as one of its
// created devices (masqueraded): a bridge that gets its to-device messages
// in transactions makes none.
func (x *ASExtensions) DeviceSyncs() int64 { return x.asDeviceSync.Load() }

// Devices lists the devices the appservice created.
func (x *ASExtensions) Devices() []id.DeviceID {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []id.DeviceID
	for dev := range x.devices {
		out = append(out, dev)
	}
	return out
}

func (x *ASExtensions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" || token != x.reg.AppToken {
		x.proxy.ServeHTTP(w, r)
		return
	}
	q := r.URL.Query()
	user := id.UserID(q.Get("user_id"))
	if user == "" {
		user = x.bot
	}
	if m := devicePath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPut && q.Get("org.matrix.msc3202.device_id") == "" {
		x.createDevice(w, r, user, id.DeviceID(m[1]))
		return
	}
	dev := id.DeviceID(q.Get("org.matrix.msc3202.device_id"))
	if dev == "" {
		x.proxy.ServeHTTP(w, r)
		return
	}
	x.mu.Lock()
	devToken, ok := x.devices[dev]
	x.mu.Unlock()
	if !ok || user != x.bot {
		writeMatrixError(w, http.StatusUnauthorized, "M_UNKNOWN_TOKEN", "unknown device for masquerading")
		return
	}
	if strings.HasSuffix(r.URL.Path, "/sync") {
		x.asDeviceSync.Add(1)
	}
	q.Del("user_id")
	q.Del("device_id")
	q.Del("org.matrix.msc3202.device_id")
	r.URL.RawQuery = q.Encode()
	r.Header.Set("Authorization", "Bearer "+devToken)
	x.proxy.ServeHTTP(w, r)
}

// createDevice is MSC4190's PUT /devices/{id} with the appservice token:
// it creates the device when it does not exist and sets its name.
func (x *ASExtensions) createDevice(w http.ResponseWriter, r *http.Request, user id.UserID, dev id.DeviceID) {
	if user != x.bot {
		// Ghosts' devices are possible in MSC4190; the bridge makes none.
		writeMatrixError(w, http.StatusBadRequest, "M_UNKNOWN", "the front creates devices for the bot only")
		return
	}
	var body struct {
		DisplayName string `json:"display_name"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body)
	x.mu.Lock()
	_, known := x.devices[dev]
	x.mu.Unlock()
	if known {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	login, _ := json.Marshal(map[string]any{
		"type":                        "m.login.application_service",
		"identifier":                  map[string]any{"type": "m.id.user", "user": string(user)},
		"device_id":                   dev,
		"initial_device_display_name": body.DisplayName,
	})
	var resp struct {
		AccessToken string      `json:"access_token"`
		DeviceID    id.DeviceID `json:"device_id"`
	}
	status, err := x.upstreamJSON(r.Context(), http.MethodPost, "/_matrix/client/v3/login", x.reg.AppToken, login, &resp)
	if err != nil || status != http.StatusOK || resp.DeviceID != dev {
		writeMatrixError(w, http.StatusBadGateway, "M_UNKNOWN", fmt.Sprintf("device creation through login failed: %d %v", status, err))
		return
	}
	x.mu.Lock()
	x.devices[dev] = resp.AccessToken
	x.mu.Unlock()
	x.wg.Add(1)
	go x.pump(dev, resp.AccessToken)
	writeJSON(w, http.StatusOK, map[string]any{})
}

// syncResponse is the part of a device's /sync that MSC2409 and MSC3202
// move into transactions.
type syncResponse struct {
	NextBatch string `json:"next_batch"`
	ToDevice  struct {
		Events []map[string]any `json:"events"`
	} `json:"to_device"`
	DeviceLists struct {
		Changed []id.UserID `json:"changed"`
		Left    []id.UserID `json:"left"`
	} `json:"device_lists"`
	OTKCount     map[string]int `json:"device_one_time_keys_count"`
	FallbackKeys []string       `json:"device_unused_fallback_key_types"`
}

// pump reads the device's /sync and pushes what it carries for the device
// in transactions, until the front closes. A transaction is retried until
// the appservice takes it, as a homeserver does; the sync token moves on
// only then, so nothing is lost while the appservice is down.
func (x *ASExtensions) pump(dev id.DeviceID, token string) {
	defer x.wg.Done()
	since := ""
	lastCounts := ""
	for x.ctx.Err() == nil {
		path := "/_matrix/client/v3/sync?timeout=10000&filter=" + url.QueryEscape(`{"room":{"rooms":[]},"presence":{"not_types":["*"]},"account_data":{"not_types":["*"]}}`)
		if since != "" {
			path += "&since=" + url.QueryEscape(since)
		}
		var resp syncResponse
		status, err := x.upstreamJSON(x.ctx, http.MethodGet, path, token, nil, &resp)
		if err != nil || status != http.StatusOK {
			x.sleep(time.Second)
			continue
		}
		counts, _ := json.Marshal([]any{resp.OTKCount, resp.FallbackKeys})
		txn := map[string]any{"events": []any{}}
		if len(resp.ToDevice.Events) > 0 {
			for _, evt := range resp.ToDevice.Events {
				evt["to_user_id"], evt["to_device_id"] = x.bot, dev
			}
			txn["de.sorunome.msc2409.to_device"] = resp.ToDevice.Events
		}
		if len(resp.DeviceLists.Changed)+len(resp.DeviceLists.Left) > 0 {
			txn["org.matrix.msc3202.device_lists"] = resp.DeviceLists
		}
		if string(counts) != lastCounts {
			txn["org.matrix.msc3202.device_one_time_keys_count"] = map[id.UserID]map[id.DeviceID]map[string]int{x.bot: {dev: resp.OTKCount}}
			txn["org.matrix.msc3202.device_unused_fallback_key_types"] = map[id.UserID]map[id.DeviceID][]string{x.bot: {dev: resp.FallbackKeys}}
		}
		if len(txn) > 1 {
			if !x.push(txn) {
				return
			}
			x.pushedToDev.Add(int64(len(resp.ToDevice.Events)))
		}
		lastCounts, since = string(counts), resp.NextBatch
	}
}

func (x *ASExtensions) push(txn map[string]any) bool {
	body, _ := json.Marshal(txn)
	target := strings.TrimSuffix(x.reg.URL, "/") + "/_matrix/app/v1/transactions/asext-" + fmt.Sprint(x.txnSeq.Add(1))
	for x.ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(x.ctx, http.MethodPut, target, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+x.reg.ServerToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		x.sleep(time.Second)
	}
	return false
}

func (x *ASExtensions) sleep(d time.Duration) {
	select {
	case <-x.ctx.Done():
	case <-time.After(d):
	}
}

func (x *ASExtensions) upstreamJSON(ctx context.Context, method, path, token string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(x.upstream.String(), "/")+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode == http.StatusOK && out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

func writeMatrixError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"errcode": code, "error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

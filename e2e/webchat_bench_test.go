package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

const (
	benchChatCustomers = 50
	benchChatStreams   = 500 // ten widgets (tabs) per customer
)

// BenchmarkWebChatStreams holds 500 live streams on one bridge process and
// measures, per agent message, how long it takes to reach every widget of
// its customer, next to how long the homeserver takes to hand the same
// event to the bridge in a transaction (the floor: the widget cannot see it
// sooner). Reports p50/p99 of both, their ratio, and the process's memory
// with the streams open.
func BenchmarkWebChatStreams(b *testing.B) {
	fake := newFake(b)
	s := startStack(b, stackOptions{fake: fake, configure: enableWebChat})
	base := s.cfg.AppService.Address
	agent := s.user(b, "agent")

	var mu sync.Mutex
	arrived := map[id.EventID]time.Time{}
	s.bridge.Events.On(event.EventMessage, func(_ context.Context, evt *event.Event) {
		mu.Lock()
		arrived[evt.ID] = time.Now()
		mu.Unlock()
	})

	type customerChat struct {
		room    id.RoomID
		streams []<-chan sseEvent
	}
	var memBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&memBefore)
	rssBefore := rssKiB()
	var chats []*customerChat
	for range benchChatCustomers {
		customerID := webChatCustomer(b, fake)
		chat := signIn(b, base, mintToken(b, customerID, time.Hour))
		cc := &customerChat{room: waitPortal(b, s, customerID).RoomID}
		joinWhenInvited(b, agent, cc.room)
		for range benchChatStreams / benchChatCustomers {
			cc.streams = append(cc.streams, chat.stream(""))
		}
		chats = append(chats, cc)
	}
	runtime.GC()
	var memAfter runtime.MemStats
	runtime.ReadMemStats(&memAfter)
	rssAfter := rssKiB()

	var widget, txn []time.Duration
	b.ResetTimer()
	for i := range b.N {
		cc := chats[i%len(chats)]
		start := time.Now()
		resp, err := agent.SendMessageEvent(context.Background(), cc.room, event.EventMessage,
			&event.MessageEventContent{MsgType: event.MsgText, Body: "bench " + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		for _, stream := range cc.streams {
			awaitMessage(b, stream, "agent message "+resp.EventID.String(), func(m chatMessage) bool { return m.ID == resp.EventID })
			widget = append(widget, time.Since(start))
		}
		mu.Lock()
		if at, ok := arrived[resp.EventID]; ok {
			txn = append(txn, at.Sub(start))
		}
		mu.Unlock()
	}
	b.StopTimer()
	p := func(d []time.Duration, q float64) time.Duration {
		if len(d) == 0 {
			return 0
		}
		slices.Sort(d)
		return d[min(len(d)-1, int(float64(len(d))*q))]
	}
	b.ReportMetric(float64(p(widget, 0.5).Microseconds())/1000, "widget-p50-ms")
	b.ReportMetric(float64(p(widget, 0.99).Microseconds())/1000, "widget-p99-ms")
	b.ReportMetric(float64(p(txn, 0.5).Microseconds())/1000, "hs-txn-p50-ms")
	b.ReportMetric(float64(p(txn, 0.99).Microseconds())/1000, "hs-txn-p99-ms")
	if t50 := p(txn, 0.5); t50 > 0 {
		b.ReportMetric(float64(p(widget, 0.5))/float64(t50), "p50-ratio")
	}
	b.ReportMetric(float64(int64(memAfter.HeapInuse)-int64(memBefore.HeapInuse))/(1<<20), "heap-MiB-for-streams")
	b.ReportMetric(float64(rssAfter-rssBefore)/1024, "rss-MiB-for-streams")
	b.ReportMetric(float64(rssAfter)/1024, "rss-MiB")
}

// rssKiB is this process's resident set (the bridge runs in it, together
// with the benchmark's 500 stream clients).
func rssKiB() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kib)
			return kib
		}
	}
	return 0
}

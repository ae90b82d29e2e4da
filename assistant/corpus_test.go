package assistant

import (
	"os"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"
)

type corpusEntry struct {
	Q      string `yaml:"q"`
	Intent Intent `yaml:"intent"`
}

// TestCorpusAccuracy measures what a customer would experience: a guess
// below the threshold is a handoff, so it counts as IntentUnknown.
func TestCorpusAccuracy(t *testing.T) {
	raw, err := os.ReadFile("testdata/questions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var corpus []corpusEntry
	if err := yaml.Unmarshal(raw, &corpus); err != nil {
		t.Fatal(err)
	}
	if len(corpus) < 200 {
		t.Fatalf("corpus has %d phrasings, want at least 200", len(corpus))
	}
	e := New(Options{})
	total, right := map[Intent]int{}, map[Intent]int{}
	ok := 0
	for _, c := range corpus {
		got, conf := e.Classify(c.Q)
		if conf < e.opts.Threshold {
			got = IntentUnknown
		}
		total[c.Intent]++
		if got == c.Intent {
			right[c.Intent]++
			ok++
		} else {
			t.Logf("miss: %q want %s, got %s (%.2f)", c.Q, c.Intent, got, conf)
		}
	}
	intents := make([]string, 0, len(total))
	for in := range total {
		intents = append(intents, string(in))
	}
	sort.Strings(intents)
	for _, in := range intents {
		t.Logf("%-15s %3d/%-3d %5.1f%%", in, right[Intent(in)], total[Intent(in)],
			100*float64(right[Intent(in)])/float64(total[Intent(in)]))
	}
	acc := float64(ok) / float64(len(corpus))
	t.Logf("overall %d/%d = %.1f%%", ok, len(corpus), 100*acc)
	if acc < 0.95 {
		t.Errorf("accuracy %.1f%% is below 95%%", 100*acc)
	}
}

package assistant

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type corpusEntry struct {
	Q       string   `yaml:"q"`
	Intent  Intent   `yaml:"intent"`
	Intents []Intent `yaml:"intents"`
	Clear   *bool    `yaml:"clear"`
	lang    Lang
}

func (c corpusEntry) clear() bool { return c.Clear == nil || *c.Clear }

// loadCorpus reads every language file in dir; the file name is the
// language.
func loadCorpus(t testing.TB, dir string) []corpusEntry {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in %s: %v", dir, err)
	}
	var all []corpusEntry
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var entries []corpusEntry
		if err := yaml.Unmarshal(raw, &entries); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		lang := Lang(strings.TrimSuffix(filepath.Base(f), ".yaml"))
		for i := range entries {
			entries[i].lang = lang
			if !slices.Contains(Intents, entries[i].Intent) {
				t.Fatalf("%s: %q has unknown intent %q", f, entries[i].Q, entries[i].Intent)
			}
		}
		all = append(all, entries...)
	}
	return all
}

// corpusScore is what a customer would experience: a guess below the
// threshold is a handoff, so it counts as IntentUnknown.
type corpusScore struct {
	total, right         int
	clear, clearRight    int
	wrongConfident       int // clear questions answered confidently with the wrong intent
	multi, multiRight    int // messages asking several things: every one found
	langTotal, langRight int
	misses               []string
}

func scoreCorpus(e *Engine, corpus []corpusEntry) map[Lang]*corpusScore {
	out := map[Lang]*corpusScore{}
	for _, c := range corpus {
		s := out[c.lang]
		if s == nil {
			s = &corpusScore{}
			out[c.lang] = s
		}
		r := e.Read(c.Q, "")
		got := r.Intent
		if r.Confidence < e.opts.Threshold {
			got = IntentUnknown
		}
		s.total++
		if c.clear() {
			s.clear++
		}
		// A message asking several things is answered in full whichever
		// of them leads.
		if got == c.Intent || (len(c.Intents) > 1 && slices.Contains(c.Intents, got)) {
			s.right++
			if c.clear() {
				s.clearRight++
			}
		} else {
			if c.clear() && got != IntentUnknown {
				s.wrongConfident++
			}
			s.misses = append(s.misses, fmt.Sprintf("[%s] %q want %s, got %s (%.2f) %v", c.lang, c.Q, c.Intent, r.Intent, r.Confidence, r.Intents))
		}
		if len(c.Intents) > 1 {
			s.multi++
			found := got != IntentUnknown
			for _, in := range c.Intents {
				found = found && slices.Contains(r.Intents, in)
			}
			if found {
				s.multiRight++
			}
		}
		// One or two words may be any language; longer messages must be
		// read in theirs.
		if len(strings.Fields(c.Q)) >= 3 {
			s.langTotal++
			if r.Lang == c.lang {
				s.langRight++
			}
		}
	}
	return out
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

func reportCorpus(t *testing.T, name string, scores map[Lang]*corpusScore) (sum corpusScore) {
	langs := make([]string, 0, len(scores))
	for l := range scores {
		langs = append(langs, string(l))
	}
	sort.Strings(langs)
	for _, l := range langs {
		s := scores[Lang(l)]
		if testing.Verbose() {
			for _, m := range s.misses {
				t.Log("miss: " + m)
			}
		}
		t.Logf("%s %s: all %d/%d = %.1f%%, clear %d/%d = %.1f%%, wrong confident on clear %d, several asks %d/%d, language %.1f%%",
			name, l, s.right, s.total, pct(s.right, s.total), s.clearRight, s.clear, pct(s.clearRight, s.clear),
			s.wrongConfident, s.multiRight, s.multi, pct(s.langRight, s.langTotal))
		sum.total += s.total
		sum.right += s.right
		sum.clear += s.clear
		sum.clearRight += s.clearRight
		sum.wrongConfident += s.wrongConfident
		sum.multi += s.multi
		sum.multiRight += s.multiRight
		sum.langTotal += s.langTotal
		sum.langRight += s.langRight
	}
	t.Logf("%s overall: all %d/%d = %.1f%%, clear %d/%d = %.1f%%, wrong confident on clear %d, several asks %d/%d, language %.1f%%",
		name, sum.right, sum.total, pct(sum.right, sum.total), sum.clearRight, sum.clear, pct(sum.clearRight, sum.clear),
		sum.wrongConfident, sum.multiRight, sum.multi, pct(sum.langRight, sum.langTotal))
	return sum
}

// TestCorpusAccuracy measures the tuning corpus and the held-out set, per
// language, and guards the figures docs/assistant.md reports against
// regressions. The held-out set was never used to tune: its floor is
// what it measured when it was added.
func TestCorpusAccuracy(t *testing.T) {
	e := New(Options{})
	tuned := reportCorpus(t, "corpus", scoreCorpus(e, loadCorpus(t, "testdata/corpus")))
	if tuned.total < 900 {
		t.Errorf("the corpus has %d phrasings, want several hundred in every language", tuned.total)
	}
	check := func(name string, s corpusScore, all, clear, wrongShare float64) {
		if got := pct(s.right, s.total); got < all {
			t.Errorf("%s: %.1f%% routed right, below %.0f%%", name, got, all)
		}
		if got := pct(s.clearRight, s.clear); got < clear {
			t.Errorf("%s: %.1f%% of clear questions routed right, below %.0f%%", name, got, clear)
		}
		if got := pct(s.wrongConfident, s.clear); got > wrongShare {
			t.Errorf("%s: %.1f%% of clear questions answered confidently with the wrong intent, above %.1f%%", name, got, wrongShare)
		}
	}
	check("corpus", tuned, 87, 91, 3.5)
	held := reportCorpus(t, "held-out", scoreCorpus(e, loadCorpus(t, "testdata/heldout")))
	// Measured when the held-out set was added, untuned: 86.7% all,
	// 88.8% clear, 12 wrong confident in 260 (4.6%).
	check("held-out", held, 85, 87, 5)
}

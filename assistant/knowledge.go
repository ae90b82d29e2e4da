package assistant

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Knowledge is the merchant's knowledge base: topics the billing data
// cannot answer (tax, shipping, terms), searched in any supported
// language. It is read-only once loaded.
type Knowledge struct {
	Topics []Topic
	docs   []kbDoc
	df     map[string]int // per topic, translations counted once
	groups int            // topics, translations counted once
	avgLen float64
}

// Topic is one entry: a title the reply cites, the answer, and words a
// customer might use that the text does not contain.
type Topic struct {
	ID       string   `yaml:"id"` // groups one topic's translations; default the title
	Title    string   `yaml:"title"`
	Lang     Lang     `yaml:"lang"` // the language it is written in; "" = any
	Keywords []string `yaml:"keywords"`
	Answer   string   `yaml:"answer"`
}

type kbDoc struct {
	tf     map[string]float64 // canonical stem → weighted count
	length float64
	named  map[string]bool // stems of the title and keywords
}

// LoadKnowledge reads a knowledge base from a Markdown (.md) or YAML
// (.yaml, .yml) file; docs/assistant.md describes both formats.
func LoadKnowledge(path string) (*Knowledge, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var topics []Topic
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		var doc struct {
			Topics []Topic `yaml:"topics"`
		}
		if err = yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		topics = doc.Topics
	case ".md", ".markdown":
		topics = parseMarkdownTopics(string(raw))
	default:
		return nil, fmt.Errorf("%s: a knowledge base is a .md or .yaml file", path)
	}
	for i, t := range topics {
		switch {
		case strings.TrimSpace(t.Title) == "":
			return nil, fmt.Errorf("%s: topic %d has no title", path, i+1)
		case strings.TrimSpace(t.Answer) == "":
			return nil, fmt.Errorf("%s: topic %q has no answer", path, t.Title)
		case t.Lang != "" && catalog[t.Lang] == nil:
			return nil, fmt.Errorf("%s: topic %q: language %q is not one of en, de, es, fr, pt, it, nl", path, t.Title, t.Lang)
		}
	}
	if len(topics) == 0 {
		return nil, fmt.Errorf("%s: no topics (each starts with a \"## Title\" line, or is an entry under topics:)", path)
	}
	return NewKnowledge(topics), nil
}

// parseMarkdownTopics reads "## Title" sections; the lines right under a
// title may set "Keywords: a, b", "Lang: de" and "ID: shipping".
func parseMarkdownTopics(src string) []Topic {
	var topics []Topic
	var cur *Topic
	var body []string
	header := false
	flush := func() {
		if cur != nil {
			cur.Answer = strings.TrimSpace(strings.Join(body, "\n"))
			topics = append(topics, *cur)
		}
		cur, body = nil, nil
	}
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if title, ok := strings.CutPrefix(line, "## "); ok {
			flush()
			cur, header = &Topic{Title: strings.TrimSpace(title)}, true
			continue
		}
		if cur == nil {
			continue
		}
		if header {
			key, value, ok := strings.Cut(line, ":")
			switch k := strings.ToLower(strings.TrimSpace(key)); {
			case strings.TrimSpace(line) == "":
				continue
			case ok && k == "keywords":
				for _, w := range strings.Split(value, ",") {
					if w = strings.TrimSpace(w); w != "" {
						cur.Keywords = append(cur.Keywords, w)
					}
				}
				continue
			case ok && (k == "lang" || k == "language"):
				cur.Lang = Lang(strings.ToLower(strings.TrimSpace(value)))
				continue
			case ok && k == "id":
				cur.ID = strings.TrimSpace(value)
				continue
			}
			header = false
		}
		body = append(body, line)
	}
	flush()
	return topics
}

// kbEngine analyses topic text the way messages are analysed; it needs
// no options.
var kbEngine = New(Options{})

// NewKnowledge indexes topics for search.
func NewKnowledge(topics []Topic) *Knowledge {
	k := &Knowledge{Topics: topics, df: map[string]int{}}
	total := 0.0
	for _, t := range topics {
		d := kbDoc{tf: map[string]float64{}, named: map[string]bool{}}
		named := t.Title + ". " + strings.Join(t.Keywords, ", ")
		for s := range kbEngine.terms(named, t.Lang) {
			d.named[s] = true
			d.tf[s] += 3
		}
		for _, s := range kbEngine.termList(t.Answer, t.Lang) {
			d.tf[s]++
		}
		for _, v := range d.tf {
			d.length += v
		}
		total += d.length
		k.docs = append(k.docs, d)
	}
	// A word counts once per topic, however many translations it has:
	// otherwise translating a topic would make it harder to find.
	seen := map[string]map[string]bool{}
	for i, d := range k.docs {
		group := topics[i].ID
		if group == "" {
			group = "\x00" + topics[i].Title
		}
		if seen[group] == nil {
			seen[group] = map[string]bool{}
		}
		for s := range d.tf {
			if !seen[group][s] {
				seen[group][s] = true
				k.df[s]++
			}
		}
	}
	k.groups = len(seen)
	if len(topics) > 0 {
		k.avgLen = total / float64(len(topics))
	}
	return k
}

// kbStop are canonical words too common to find a topic by.
var kbStop = set("my me you i we this that what how when why where which and or but not can cant please want need like " +
	"the a an is are do does did have has be of to in on for with it at by from your our")

func (e *Engine) termList(s string, lang Lang) []string {
	t := e.analyze(s, lang)
	var out []string
	for _, w := range t.words {
		if st := stem(w); !kbStop[st] && !kbStop[w] && len(w) > 1 {
			out = append(out, st)
		}
	}
	return out
}

func (e *Engine) terms(s string, lang Lang) map[string]bool {
	m := map[string]bool{}
	for _, w := range e.termList(s, lang) {
		m[w] = true
	}
	return m
}

// minTopicScore keeps a topic whose name matched only through a word
// every topic shares from answering.
const minTopicScore = 0.3

// Search ranks the topics for a question (BM25 over the canonical words
// of every language, the title and keywords weighing three times the
// text) and returns the best one in lang when the topic has a translation,
// or nil when nothing names what the question is about.
func (k *Knowledge) Search(question string, lang Lang) *Topic {
	if k == nil || len(k.docs) == 0 {
		return nil
	}
	query := kbEngine.terms(question, lang)
	const k1, b = 1.2, 0.75
	n := float64(k.groups)
	bestDoc, bestScore := -1, 0.0
	for i, d := range k.docs {
		score, named := 0.0, false
		for q := range query {
			tf := d.tf[q]
			if tf == 0 {
				continue
			}
			named = named || d.named[q]
			df := float64(k.df[q])
			idf := math.Log(1 + (n-df+0.5)/(df+0.5))
			score += idf * tf * (k1 + 1) / (tf + k1*(1-b+b*d.length/k.avgLen))
		}
		// A topic is only an answer when the question names its subject,
		// not when a word of its text happens to recur.
		if named && score > bestScore {
			bestDoc, bestScore = i, score
		}
	}
	if bestDoc < 0 || bestScore < minTopicScore {
		return nil
	}
	return k.translation(k.Topics[bestDoc], lang)
}

// translation picks the topic's version in lang, else the one written for
// any language, else the one found.
func (k *Knowledge) translation(found Topic, lang Lang) *Topic {
	id := found.ID
	if id == "" {
		return &found
	}
	var versions []Topic
	for _, t := range k.Topics {
		if t.ID == id {
			versions = append(versions, t)
		}
	}
	sort.SliceStable(versions, func(i, j int) bool { return rank(versions[i], lang) < rank(versions[j], lang) })
	return &versions[0]
}

func rank(t Topic, lang Lang) int {
	switch t.Lang {
	case lang:
		return 0
	case "":
		return 1
	case LangEN:
		return 2
	}
	return 3
}

// policyWords make a question about the merchant's rules even when it
// also reads as a billing request ("what is your refund policy?").
var policyWords = []string{"policy", "terms", "shipping", "delivery"}

// knowledge is the topic that answers the message, if the knowledge base
// has one and the billing data should not answer instead.
func (e *Engine) knowledge(r Reading, confident bool) *Topic {
	if e.opts.Knowledge == nil || r.text == nil || r.Intent == IntentHuman && confident {
		return nil
	}
	if confident && !asksPolicy(r) {
		return nil
	}
	return e.opts.Knowledge.Search(r.text.raw, r.Lang)
}

// asksPolicy reports whether a message the billing data could answer is
// rather about the merchant's rules: it names a policy, or asks about tax
// without asking for a document ("do your prices include VAT?").
func asksPolicy(r Reading) bool {
	for _, w := range policyWords {
		if containsWord(r.text.words, w) {
			return true
		}
	}
	if r.Intent != IntentInvoices || len(r.Intents) > 1 {
		return false
	}
	for _, w := range []string{"invoice", "receipt", "pdf", "copy", "download", "send", "bill"} {
		if containsWord(r.text.words, w) {
			return false
		}
	}
	return true
}

func containsWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

package insights_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-stripe/matrix-stripe/insights"
)

// parsedChart is what a chart's XML says, read with encoding/xml.
type parsedChart struct {
	root  xml.StartElement
	title string
	bars  int
	texts []string
}

func parseChart(t *testing.T, doc []byte) parsedChart {
	t.Helper()
	var out parsedChart
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack []xml.StartElement
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			tok = tok.Copy()
			if len(stack) == 0 {
				out.root = tok
			}
			for _, attr := range tok.Attr {
				name := strings.ToLower(attr.Name.Local)
				if strings.HasPrefix(name, "on") || name == "href" || name == "style" {
					t.Errorf("<%s> has the attribute %s", tok.Name.Local, attr.Name.Local)
				}
			}
			switch tok.Name.Local {
			case "script", "foreignObject", "a", "image", "use", "style":
				t.Errorf("the chart has a <%s> element", tok.Name.Local)
			case "rect":
				if attrValue(tok, "class") == "bar" {
					out.bars++
				}
			}
			stack = append(stack, tok)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			parent := stack[len(stack)-1].Name.Local
			grandparent := ""
			if len(stack) > 1 {
				grandparent = stack[len(stack)-2].Name.Local
			}
			switch {
			case parent == "title" && grandparent == "svg":
				out.title += string(tok)
			case parent == "text":
				out.texts = append(out.texts, string(tok))
			}
		}
	}
	if out.root.Name.Local != "svg" || out.root.Name.Space != "http://www.w3.org/2000/svg" {
		t.Errorf("root element %v, want svg in the SVG namespace", out.root.Name)
	}
	if w, h := attrValue(out.root, "width"), attrValue(out.root, "height"); w != "640" || h != "220" {
		t.Errorf("size %s×%s, want 640×220", w, h)
	}
	return out
}

func attrValue(el xml.StartElement, name string) string {
	for _, attr := range el.Attr {
		if attr.Name.Local == name {
			return attr.Value
		}
	}
	return ""
}

func TestBarChart(t *testing.T) {
	t.Run("one bar per non-zero value, labels underneath, the maximum on the axis", func(t *testing.T) {
		chart := parseChart(t, insights.BarChart("Conversations per day",
			[]string{"Mon", "Tue", "Wed", "Thu"}, []float64{3, 0, 7.5, 1}))
		if chart.bars != 3 {
			t.Errorf("%d bars, want 3 (the zero draws none)", chart.bars)
		}
		if chart.title != "Conversations per day" {
			t.Errorf("title %q", chart.title)
		}
		for _, want := range []string{"Conversations per day", "Mon", "Tue", "Wed", "Thu", "7.5"} {
			if !slices.Contains(chart.texts, want) {
				t.Errorf("no text %q in %q", want, chart.texts)
			}
		}
	})
	t.Run("text is escaped", func(t *testing.T) {
		doc := insights.BarChart(`Intents <script>alert(1)</script>`, []string{"<b>&", `"quoted"`}, []float64{1, 2})
		chart := parseChart(t, doc)
		if !slices.Contains(chart.texts, "<b>&") || !strings.Contains(chart.title, "<script>") {
			t.Errorf("label or title lost in escaping: %q, %q", chart.texts, chart.title)
		}
		if bytes.Contains(doc, []byte("<b>")) || bytes.Contains(doc, []byte("<script")) {
			t.Errorf("raw markup in the chart:\n%s", doc)
		}
		if !bytes.Contains(doc, []byte("&lt;b&gt;&amp;")) {
			t.Errorf("the label is not escaped as &lt;b&gt;&amp;:\n%s", doc)
		}
	})
	t.Run("many labels are thinned out", func(t *testing.T) {
		labels := make([]string, 90)
		values := make([]float64, 90)
		for i := range labels {
			labels[i] = fmt.Sprintf("2026-01-%02d", i%28+1)
			values[i] = float64(i + 1)
		}
		chart := parseChart(t, insights.BarChart("Ninety days", labels, values))
		if chart.bars != 90 {
			t.Errorf("%d bars, want 90", chart.bars)
		}
		shown := 0
		for _, text := range chart.texts {
			if strings.HasPrefix(text, "2026-") {
				shown++
			}
		}
		// 576 units of plot for labels about 68 wide: at most 8 fit.
		if shown < 2 || shown > 9 {
			t.Errorf("%d of 90 labels shown, want a few that fit side by side", shown)
		}
	})
	t.Run("no values: an empty chart saying so", func(t *testing.T) {
		chart := parseChart(t, insights.BarChart("Writes", nil, nil))
		if chart.bars != 0 || !slices.Contains(chart.texts, "No data") {
			t.Errorf("%d bars, texts %q; want none and \"No data\"", chart.bars, chart.texts)
		}
	})
	t.Run("only zeros: no bars", func(t *testing.T) {
		chart := parseChart(t, insights.BarChart("Quiet week", []string{"a", "b"}, []float64{0, 0}))
		if chart.bars != 0 {
			t.Errorf("%d bars, want none", chart.bars)
		}
	})
}

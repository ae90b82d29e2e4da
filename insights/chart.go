package insights

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
)

// The chart's geometry, in SVG user units (pixels at 1:1).
const (
	chartWidth  = 640
	chartHeight = 220
	plotLeft    = 52  // room for the y-axis label
	plotRight   = 628 // chartWidth minus a margin
	plotTop     = 32  // below the title
	plotBottom  = 186 // above the labels
	// An estimate of one label character's width at font-size 10, to thin
	// labels out before they overlap.
	labelCharWidth = 6.0
	labelGap       = 8.0
	maxLabelRunes  = 16
)

// BarChart draws a small bar chart as a standalone SVG document (640×220):
// one bar per value, labelled underneath (every k-th label only when there
// are too many to fit), the largest value at the top of the y axis, and
// title as its <title>. Every piece of text is cleaned and XML-escaped; the
// document has no scripts, styles, links or event handlers, so it is safe
// to serve as an image. Zero, negative and non-finite values draw no bar.
// With no values it is an empty chart saying "No data".
func BarChart(title string, labels []string, values []float64) []byte {
	var buf bytes.Buffer
	title = usertext.Clean(title)
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" font-family="sans-serif">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	fmt.Fprintf(&buf, "<title>%s</title>\n", escape(title))
	fmt.Fprintf(&buf, `<text x="%d" y="20" font-size="13" font-weight="bold" fill="#222">%s</text>`+"\n", plotLeft, escape(title))
	fmt.Fprintf(&buf, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888" stroke-width="1"/>`+"\n", plotLeft, plotBottom, plotRight, plotBottom)
	fmt.Fprintf(&buf, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888" stroke-width="1"/>`+"\n", plotLeft, plotTop, plotLeft, plotBottom)

	if len(values) == 0 {
		fmt.Fprintf(&buf, `<text x="%d" y="%d" font-size="13" fill="#666" text-anchor="middle">No data</text>`+"\n",
			(plotLeft+plotRight)/2, (plotTop+plotBottom)/2)
		buf.WriteString("</svg>\n")
		return buf.Bytes()
	}

	top := 0.0
	for _, v := range values {
		if drawable(v) {
			top = max(top, v)
		}
	}
	fmt.Fprintf(&buf, `<text x="%d" y="%d" font-size="10" fill="#444" text-anchor="end">%s</text>`+"\n",
		plotLeft-6, plotTop+4, escape(formatValue(top)))
	fmt.Fprintf(&buf, `<text x="%d" y="%d" font-size="10" fill="#444" text-anchor="end">0</text>`+"\n", plotLeft-6, plotBottom)

	cleaned := make([]string, len(values))
	widest := 0
	for i := range values {
		if i < len(labels) {
			cleaned[i] = shorten(usertext.Clean(labels[i]))
		}
		widest = max(widest, utf8.RuneCountInString(cleaned[i]))
	}
	plotWidth := float64(plotRight - plotLeft)
	slot := plotWidth / float64(len(values))
	every := max(int(math.Ceil((float64(widest)*labelCharWidth+labelGap)/slot)), 1)

	for i, v := range values {
		x := plotLeft + float64(i)*slot
		if drawable(v) {
			height := v / top * float64(plotBottom-plotTop)
			fmt.Fprintf(&buf, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#4a6fa5"><title>%s</title></rect>`+"\n",
				x+slot*0.1, plotBottom-height, math.Max(slot*0.8, 1), height,
				escape(barTooltip(cleaned[i], v)))
		}
		if i%every == 0 && cleaned[i] != "" {
			// Centred under its bar, but kept inside the picture.
			half := float64(utf8.RuneCountInString(cleaned[i])) * labelCharWidth / 2
			center := min(max(x+slot/2, half), chartWidth-half)
			fmt.Fprintf(&buf, `<text x="%.1f" y="%d" font-size="10" fill="#444" text-anchor="middle">%s</text>`+"\n",
				center, plotBottom+14, escape(cleaned[i]))
		}
	}
	buf.WriteString("</svg>\n")
	return buf.Bytes()
}

func drawable(v float64) bool {
	return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v)
}

func barTooltip(label string, v float64) string {
	if label == "" {
		return formatValue(v)
	}
	return label + ": " + formatValue(v)
}

// formatValue writes whole numbers without decimals, others with at most two.
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// shorten cuts a label to maxLabelRunes, so one long label does not thin
// out all the others.
func shorten(label string) string {
	if utf8.RuneCountInString(label) <= maxLabelRunes {
		return label
	}
	runes := []rune(label)
	return string(runes[:maxLabelRunes-1]) + "…"
}

func escape(s string) string {
	var buf bytes.Buffer
	_ = xml.EscapeText(&buf, []byte(s)) // writes to a bytes.Buffer never fail
	return buf.String()
}

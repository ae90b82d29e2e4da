package portal

import (
	"strings"
	"testing"
)

// TestRenderStripsZeroWidthAndBidi: a notice shows a customer's name and a
// charge's description without the bidi controls and the invisible
// characters in them (before the shared usertext helper only the bidi ones
// went), in both bodies, and HTML-escaped in the formatted one.
func TestRenderStripsZeroWidthAndBidi(t *testing.T) {
	const hidden = "\u202E\u2066\u200B\u200D\uFEFF\u00AD\u2060\u061C"
	tests := []struct {
		fixture, field, value, want string
	}{
		{"customer.created.json", "name", "\u202EAda\u200B Love\u00ADlace\uFEFF", "Ada Lovelace"},
		{"charge.failed_insufficient_funds.json", "description", "<b>Or\u200Bder</b>\u2066 #1\u2060\u061C", "&lt;b&gt;Order&lt;/b&gt; #1"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			evt := editFixture(t, tt.fixture, func(obj map[string]any) { obj[tt.field] = tt.value })
			rendering, err := Render(evt, RenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := rendering.Customer
			checkContent(t, got.Content)
			if strings.ContainsAny(got.Content.Body+got.Content.FormattedBody, hidden) {
				t.Errorf("hidden characters survived:\n%+q\n%+q", got.Content.Body, got.Content.FormattedBody)
			}
			if !strings.Contains(got.Content.FormattedBody, tt.want) {
				t.Errorf("HTML does not show %q: %s", tt.want, got.Content.FormattedBody)
			}
		})
	}
}

func TestCleanClipsWithoutDanglingJoiner(t *testing.T) {
	s := strings.Repeat("x", maxTextRunes-2) + "👩‍💻" // the cut falls after the ZWJ
	got := clean(s)
	if !strings.HasSuffix(got, "👩…") {
		t.Errorf("clipped to %+q", got[len(got)-12:])
	}
}

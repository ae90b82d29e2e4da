package bridge

import "testing"

func TestSatisfactionReadsThumbs(t *testing.T) {
	for in, want := range map[string]string{
		"👍": "up", "👍️": "up", "👍🏽": "up", " 👍 ": "up", "+1": "up",
		"👎": "down", "👎🏿": "down", ":-1:": "down",
		"👍👍": "", "thanks 👍": "", "": "", "✅": "",
	} {
		if got := satisfaction(in); got != want {
			t.Errorf("satisfaction(%q) = %q, want %q", in, got, want)
		}
	}
}

package panel

import (
	"net/url"
	"testing"
	"time"
)

func TestCSVCellsNeverRunAsFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://evil\")": "'=HYPERLINK(\"http://evil\")",
		"+1":                          "'+1",
		"-1":                          "'-1",
		"@SUM(A1)":                    "'@SUM(A1)",
		"\tx":                         "'\tx",
		"hello":                       "hello",
		"":                            "",
		"a=b":                         "a=b",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInsightsPeriod(t *testing.T) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	p, ok := period(url.Values{})
	if !ok || !p.From.Equal(today.AddDate(0, 0, -29)) || !p.To.Equal(today.AddDate(0, 0, 1)) {
		t.Errorf("default period %v–%v", p.From, p.To)
	}
	p, ok = period(url.Values{"from": {"2026-11-01"}, "to": {"2026-12-01"}})
	if !ok || p.From.Format(time.DateOnly) != "2026-11-01" || p.To.Format(time.DateOnly) != "2026-12-01" {
		t.Errorf("explicit period %v–%v %v", p.From, p.To, ok)
	}
	for _, bad := range []url.Values{
		{"from": {"yesterday"}},
		{"from": {"2026-12-01"}, "to": {"2026-11-01"}},
		{"from": {"2026-12-01"}, "to": {"2026-12-01"}},
		{"from": {"2020-01-01"}, "to": {"2026-01-01"}},
	} {
		if _, ok := period(bad); ok {
			t.Errorf("period %v accepted", bad)
		}
	}
}

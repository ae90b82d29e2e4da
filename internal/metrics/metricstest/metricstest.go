// Package metricstest reads a /metrics page the way Prometheus does, for
// the tests of the metrics listener and of a running bridge.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape fetches http://addr/metrics and parses it; raw is the page as
// served, for failure messages.
func Scrape(addr string) (families map[string]*dto.MetricFamily, raw string, err error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, string(body), fmt.Errorf("scrape answered %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err = parser.TextToMetricFamilies(strings.NewReader(string(body)))
	return families, string(body), err
}

// Value is the sample of family's series with exactly these labels (a
// counter's or gauge's value, a histogram's count); ok is false when there
// is no such series.
func Value(families map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	for _, m := range families[family].GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			match = match && labels[l.GetName()] == l.GetValue()
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

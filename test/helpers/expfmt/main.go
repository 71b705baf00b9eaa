// expfmt2json reads a Prometheus text exposition on stdin and prints its metric families as JSON, parsed by
// github.com/prometheus/common/expfmt: the parser Prometheus' own tooling and KEDA's metrics-api scaler use.
// Built offline from Debian's golang-github-prometheus-common-dev (see test/helpers/expfmt.ts). Non-finite
// numbers, which JSON cannot hold, are written as the strings "+Inf", "-Inf" and "NaN".
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type number float64

func (n number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	}
	return json.Marshal(f)
}

type label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}
type value struct {
	Value number `json:"value"`
}
type bucket struct {
	CumulativeCount uint64 `json:"cumulative_count"`
	UpperBound      number `json:"upper_bound"`
}
type histogram struct {
	SampleCount uint64   `json:"sample_count"`
	SampleSum   number   `json:"sample_sum"`
	Bucket      []bucket `json:"bucket"`
}
type quantile struct {
	Quantile number `json:"quantile"`
	Value    number `json:"value"`
}
type summary struct {
	SampleCount uint64     `json:"sample_count"`
	SampleSum   number     `json:"sample_sum"`
	Quantile    []quantile `json:"quantile"`
}
type metric struct {
	Label     []label    `json:"label"`
	Counter   *value     `json:"counter,omitempty"`
	Gauge     *value     `json:"gauge,omitempty"`
	Untyped   *value     `json:"untyped,omitempty"`
	Histogram *histogram `json:"histogram,omitempty"`
	Summary   *summary   `json:"summary,omitempty"`
}
type family struct {
	Name   string   `json:"name"`
	Help   string   `json:"help"`
	Type   int32    `json:"type"`
	Metric []metric `json:"metric"`
}

func convert(f *dto.MetricFamily) family {
	out := family{Name: f.GetName(), Help: f.GetHelp(), Type: int32(f.GetType())}
	for _, m := range f.Metric {
		o := metric{Label: []label{}}
		for _, l := range m.Label {
			o.Label = append(o.Label, label{l.GetName(), l.GetValue()})
		}
		if m.Counter != nil {
			o.Counter = &value{number(m.Counter.GetValue())}
		}
		if m.Gauge != nil {
			o.Gauge = &value{number(m.Gauge.GetValue())}
		}
		if m.Untyped != nil {
			o.Untyped = &value{number(m.Untyped.GetValue())}
		}
		if h := m.Histogram; h != nil {
			oh := &histogram{SampleCount: h.GetSampleCount(), SampleSum: number(h.GetSampleSum()), Bucket: []bucket{}}
			for _, b := range h.Bucket {
				oh.Bucket = append(oh.Bucket, bucket{b.GetCumulativeCount(), number(b.GetUpperBound())})
			}
			o.Histogram = oh
		}
		if s := m.Summary; s != nil {
			os := &summary{SampleCount: s.GetSampleCount(), SampleSum: number(s.GetSampleSum()), Quantile: []quantile{}}
			for _, q := range s.Quantile {
				os.Quantile = append(os.Quantile, quantile{number(q.GetQuantile()), number(q.GetValue())})
			}
			o.Summary = os
		}
		out.Metric = append(out.Metric, o)
	}
	return out
}

func main() {
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]family, 0, len(families))
	for _, name := range names {
		out = append(out, convert(families[name]))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

package session

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/engine/compare"
	"blockprof/engine/cuts"
	"blockprof/model"
)

// DeviceComparison is several devices of one space side by side: the compared
// effects, each device's analysis and suggested cuts, and the cuts that
// hold on every device.
type DeviceComparison struct {
	*compare.Result
	// Latency holds each device's analysis (Result.Devices order); Qualities
	// the quality analysis the suggestions trade latency against (one per
	// device: a recorded file's own archs).
	Latency   []*Analysis
	Qualities []*Analysis
	// QualityMetric is the quality metric (accuracy, macs or params).
	QualityMetric string
	// PerDevice are each device's suggested cuts (empty cuts when the data
	// support none), Common the cuts that hold on every device.
	PerDevice []Suggestion
	Common    cuts.Cuts
	// CommonModel is Common as a reduced space (its TOML form).
	CommonModel model.Reduction
}

// CompareRequest names the devices to compare.
type CompareRequest struct {
	Devices []string
	// Quality is the metric the per-device suggestions trade latency
	// against; "" is Suggest's default, the space's accuracy source, so the
	// explorer, `compare` and `analyze --suggest` cut the same blocks.
	Quality string
}

// Compare compares the store's devices of the session's space, each read
// through Series and analysed like Analyze does.
func (s *Session) Compare(ctx context.Context, req CompareRequest, opt analysis.Options) (*DeviceComparison, error) {
	if len(req.Devices) < 2 {
		return nil, fmt.Errorf("compare needs two or more devices (got %d)", len(req.Devices))
	}
	quality := req.Quality
	if quality == "" {
		quality = MetricAccuracy // as Suggest
	}
	var lats []*Analysis
	for _, d := range req.Devices {
		an, err := s.Analyze(ctx, SeriesRequest{Device: d, Metric: MetricLatency}, opt)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", d, err)
		}
		lats = append(lats, an)
	}
	q, err := s.Analyze(ctx, SeriesRequest{Metric: quality}, opt)
	if err != nil {
		return nil, fmt.Errorf("quality %s: %w", quality, err)
	}
	qs := make([]*Analysis, len(lats))
	for i := range qs {
		qs[i] = q
	}
	return compareAnalyses(req.Devices, lats, qs, func(i int) string {
		return fmt.Sprintf("%s-%s-suggested", s.sp.Name, req.Devices[i])
	}, s.opts.Version)
}

// RecordedDevice is one latency key of a recorded file, under a name.
type RecordedDevice struct {
	Name string
	Rec  *Recorded
}

// CompareRecorded compares latency keys of recorded files (one file with
// several keys, or one key in each of several files).
func CompareRecorded(devs []RecordedDevice, quality string, res int, opt analysis.Options) (*DeviceComparison, error) {
	if len(devs) < 2 {
		return nil, fmt.Errorf("compare needs two or more devices (got %d)", len(devs))
	}
	quality = orMACs(quality)
	sp := devs[0].Rec.Space().Name
	var names []string
	var lats, qs []*Analysis
	for _, d := range devs {
		if got := d.Rec.Space().Name; got != sp {
			return nil, fmt.Errorf("devices of different spaces: %s is %s, %s is %s; compare devices of one space", devs[0].Name, sp, d.Name, got)
		}
		an, err := d.Rec.Analyze(MetricLatency, res, opt)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", d.Name, err)
		}
		q, err := d.Rec.Analyze(quality, res, opt)
		if err != nil {
			return nil, fmt.Errorf("device %s: quality %s: %w", d.Name, quality, err)
		}
		names, lats, qs = append(names, d.Name), append(lats, an), append(qs, q)
	}
	return compareAnalyses(names, lats, qs, func(i int) string {
		return fmt.Sprintf("%s-%s-suggested", sp, names[i])
	}, "")
}

func orMACs(q string) string {
	if q == "" {
		return MetricMACs
	}
	return q
}

func compareAnalyses(names []string, lats, qs []*Analysis, name func(int) string, version string) (*DeviceComparison, error) {
	devs := make([]compare.Device, len(lats))
	for i, an := range lats {
		devs[i] = compare.Device{Name: names[i], Label: an.Series.Label, Records: an.Series.Records, Report: an.Report, Obs: an.Series.Obs}
	}
	r, err := compare.Compare(devs)
	if err != nil {
		return nil, err
	}
	out := &DeviceComparison{Result: r, Latency: lats, Qualities: qs, QualityMetric: qs[0].Series.Metric}
	r.SetQuality(qs[0].Series.Metric, qs[0].Series.Label, mergedObs(qs))
	var per []cuts.Cuts
	for i := range lats {
		sug, err := SuggestFrom(lats[i], qs[i], name(i))
		if err != nil && !errors.Is(err, ErrNothingToCut) {
			return nil, fmt.Errorf("device %s: %w", names[i], err)
		}
		sug.Model.Device, sug.Model.Version = names[i], version
		out.PerDevice = append(out.PerDevice, sug)
		per = append(per, sug.Cuts)
	}
	if out.Common, err = compare.CommonCuts(per, names); err != nil {
		return nil, err
	}
	out.CommonModel = out.Common.Reduction(fmt.Sprintf("%s-common-%s", r.Space, strings.Join(names, "-")))
	out.CommonModel.Device, out.CommonModel.Version = strings.Join(names, ","), version
	out.CommonModel.Statistic = "cuts suggested on every device (regression effect of latency vs " + out.QualityMetric + ")"
	return out, nil
}

// mergedObs joins quality observations (one analysis per recorded file; the
// same analysis repeated for store devices).
func mergedObs(qs []*Analysis) []analysis.Obs {
	var out []analysis.Obs
	seen := map[*Analysis]bool{}
	for _, q := range qs {
		if !seen[q] {
			seen[q] = true
			out = append(out, q.Series.Obs...)
		}
	}
	return out
}

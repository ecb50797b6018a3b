package session

import (
	"fmt"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/engine/reduce"
	"blockprof/model"
)

// PaperImpact is the effect of one of the paper's reduced spaces on a
// device's latency and on quality.
type PaperImpact struct {
	Name   string        `json:"name"`
	Rules  string        `json:"rules"`
	Impact reduce.Impact `json:"impact"`
}

// PaperImpacts evaluates the paper's reduced spaces (comma-separated names,
// or "all" for those of lat's space family) on the analyses.
func PaperImpacts(names string, spaces *model.Spaces, lat, q *Analysis) ([]PaperImpact, error) {
	sp := lat.Report.SpaceDef()
	list := strings.Split(names, ",")
	if names == "all" {
		list = nil
		for _, p := range reduce.PaperRules {
			if parent, _ := spaces.Get(p.Parent); parent != nil && parent.Compatible(sp) && parent.Family == sp.Family {
				list = append(list, p.Name)
			}
		}
	}
	var qrep *analysis.Report
	if q != nil {
		qrep = q.Report
	}
	var out []PaperImpact
	for _, n := range list {
		r, err := reduce.Paper(strings.TrimSpace(n), sp)
		if err != nil {
			return nil, err
		}
		im, err := reduce.Evaluate(r, lat.Report, qrep)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		rules := ""
		for _, p := range reduce.PaperRules {
			if p.Name == r.Name {
				rules = p.Rules
			}
		}
		out = append(out, PaperImpact{Name: r.Name, Rules: rules, Impact: im})
	}
	return out, nil
}

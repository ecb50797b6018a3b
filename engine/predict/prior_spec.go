package predict

import (
	"fmt"
	"strings"
)

// MaxPriors bounds the prior devices of one transfer fit.
const MaxPriors = 16

// MACsPriorName names the MACs pseudo prior (MACsPrior) in --prior and in
// a transfer plan's prior= list.
const MACsPriorName = "macs"

// PriorSpec names a prior device in a recorded file: latency key Key of
// the records of File; or, with MACs set, the MACs pseudo prior.
type PriorSpec struct {
	File, Key string
	MACs      bool
}

// String is "FILE:KEY" or "macs".
func (p PriorSpec) String() string {
	if p.MACs {
		return MACsPriorName
	}
	return p.File + ":" + p.Key
}

// ParsePriorSpecs reads a --prior value "FILE:KEY[,FILE:KEY]" (the last ':'
// of each item separates the key, so a file name may hold ':'); the item
// "macs" is the MACs pseudo prior. It refuses
// empty items, files or keys, repeats, and more than MaxPriors items.
func ParsePriorSpecs(s string) ([]PriorSpec, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--prior is empty: want FILE:KEY[,FILE:KEY], e.g. h100-ofa-mbv3-w1.0.jsonl:gpu-b1-fp32-graph")
	}
	var out []PriorSpec
	seen := map[PriorSpec]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == MACsPriorName {
			p := PriorSpec{MACs: true}
			if seen[p] {
				return nil, fmt.Errorf("--prior %s is given twice", p)
			}
			seen[p] = true
			out = append(out, p)
			continue
		}
		i := strings.LastIndex(item, ":")
		if i <= 0 || i == len(item)-1 {
			return nil, fmt.Errorf("--prior item %q: want FILE:KEY (a records file and one of its latency_ms keys)", item)
		}
		p := PriorSpec{File: item[:i], Key: item[i+1:]}
		if seen[p] {
			return nil, fmt.Errorf("--prior %s is given twice", p)
		}
		seen[p] = true
		out = append(out, p)
		if len(out) > MaxPriors {
			return nil, fmt.Errorf("--prior: more than %d prior devices", MaxPriors)
		}
	}
	return out, nil
}

package predict

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"blockprof/devices/sim"
	"blockprof/engine/stats"
)

// TestTransferTable prints the leave-one-device-out table of docs/findings.md
// (transfer vs from-scratch additive vs MACs at N = 5, 10, 20, 50) on the
// shared H100/H200 data. It is a report, not a check: run it with
//
//	BLOCKPROF_TRANSFER_TABLE=1 go test ./engine/predict -run TestTransferTable -v
func TestTransferTable(t *testing.T) {
	if os.Getenv("BLOCKPROF_TRANSFER_TABLE") == "" {
		t.Skip("set BLOCKPROF_TRANSFER_TABLE=1 to print the leave-one-device-out table")
	}
	dir := sharedData(t)
	type device struct {
		machine, key string
		recs         []Record
	}
	shotsList := []int{5, 10, 20, 50}
	const seeds = 5
	simTable(t, shotsList, seeds)
	for _, space := range []string{"ofa-mbv3-w1.0", "ofa-pn-w1.3", "ofa-resnet50"} {
		sp := loadSpace(t, space)
		macs, err := MACsPrior(sp, sampleArchs(sp, 300, 7))
		if err != nil {
			t.Fatal(err)
		}
		var devs []device
		for _, machine := range []string{"h100", "h200"} {
			path := filepath.Join(dir, machine+"-"+space+".jsonl")
			if _, err := os.Stat(path); err != nil {
				continue
			}
			recs := readFile(t, sp, path)
			for _, k := range LatencyKeys(recs) {
				devs = append(devs, device{machine, k, recs})
			}
		}
		fmt.Printf("\n### %s\n\n", space)
		fmt.Println("| target | spread | model | N=5 ±10% / MAPE / ρ | N=10 | N=20 | N=50 | cover95 @20 |")
		fmt.Println("|---|---|---|---|---|---|---|---|")
		for ti, tgt := range devs {
			cut := len(tgt.recs) * 2 / 3
			train, test := tgt.recs[:cut], tgt.recs[cut:]
			var all, same []TransferPrior
			for pi, pd := range devs {
				if pi == ti {
					continue
				}
				pr, err := PriorFromRecords(sp, pd.machine, pd.recs, pd.key)
				if err != nil {
					t.Fatal(err)
				}
				pr.Name = pd.machine + ":" + pd.key
				all = append(all, pr)
				if pd.key == tgt.key {
					same = append(same, pr)
				}
			}
			spread := 0.0
			{
				var s []float64
				for _, r := range tgt.recs {
					l := r.Latency[tgt.key]
					s = append(s, (l.Max-l.Min)/l.Median)
				}
				spread = stats.Median(s)
			}
			type variant struct {
				name, model string
				priors      []TransferPrior
				seeds       int
			}
			vs := []variant{{"transfer (all others)", "transfer", all, 1}, {"transfer (all others + macs)", "transfer", append(slices.Clip(all), macs), 1}}
			if len(same) > 0 {
				vs = append(vs, variant{"transfer (same key, other machine)", "transfer", same, 1}, variant{"transfer (same key + macs)", "transfer", append(slices.Clip(same), macs), 1})
			}
			vs = append(vs, variant{"additive, uniform", "additive", nil, seeds}, variant{"macs, uniform", "macs", nil, seeds})
			for _, v := range vs {
				cells := []string{}
				cover := "–"
				for _, n := range shotsList {
					if n > len(train) {
						cells = append(cells, "–")
						continue
					}
					var w, mape, rho float64
					for s := 1; s <= v.seeds; s++ {
						ev, err := EvaluateShots(sp, train, test, tgt.key, v.model, n, v.priors, uint64(s))
						if err != nil {
							t.Fatalf("%s %s:%s %s N=%d: %v", space, tgt.machine, tgt.key, v.name, n, err)
						}
						w += stats.WithinFrac(ev.Pred, ev.Truth, 0.10)
						mape += stats.MAPE(ev.Pred, ev.Truth)
						rho += stats.Spearman(ev.Pred, ev.Truth)
						if n == 20 && ev.Lo != nil {
							cover = fmt.Sprintf("%.2f", Coverage(ev.Lo, ev.Hi, ev.Truth))
						}
					}
					k := float64(v.seeds)
					cells = append(cells, fmt.Sprintf("%.0f%% / %.1f%% / %.3f", 100*w/k, 100*mape/k, rho/k))
				}
				fmt.Printf("| %s:%s | %.1f%% | %s | %s | %s |\n", tgt.machine, tgt.key, 100*spread, v.name, strings.Join(cells, " | "), cover)
			}
		}
	}
}

// simTable is the leave-one-device-out table over the sim presets (npu,
// cpu): 150 uniform MobileNetV3 archs at 224 px, noise-free latencies from
// the presets' cost models, fit on N of the first 100, test on the last 50.
func simTable(t *testing.T, shotsList []int, seeds int) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	archs := sampleArchs(sp, 150, 42)
	names := slices.Sorted(maps.Keys(sim.Presets()))
	recs := make([]Record, len(archs))
	for i, a := range archs {
		net, err := sp.Network(a)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = Record{Line: i + 1, Arch: a, Latency: map[string]LatencySummary{}}
		for _, n := range names {
			recs[i].Latency[n] = LatencySummary{Median: sim.Presets()[n].Latency(net), N: 1}
		}
	}
	fmt.Printf("\n### sim presets (ofa-mbv3-w1.0, 224 px, noise-free)\n\n")
	fmt.Println("| target (prior: the other preset) | model | N=5 ±10% / MAPE / ρ | N=10 | N=20 | N=50 | cover95 @20 |")
	fmt.Println("|---|---|---|---|---|---|---|")
	train, test := recs[:100], recs[100:]
	macs, err := MACsPrior(sp, sampleArchs(sp, 300, 7))
	if err != nil {
		t.Fatal(err)
	}
	for _, tgt := range names {
		var others []TransferPrior
		for _, n := range names {
			if n != tgt {
				p, err := PriorFromRecords(sp, "sim", recs, n)
				if err != nil {
					t.Fatal(err)
				}
				p.Name = "sim-" + n
				others = append(others, p)
			}
		}
		for _, v := range []struct {
			name, model string
			priors      []TransferPrior
			seeds       int
		}{{"transfer", "transfer", others, 1}, {"transfer + macs", "transfer", append(slices.Clip(others), macs), 1}, {"additive, uniform", "additive", nil, seeds}, {"macs, uniform", "macs", nil, seeds}} {
			var cells []string
			cover := "–"
			for _, n := range shotsList {
				var w, mape, rho float64
				for s := 1; s <= v.seeds; s++ {
					ev, err := EvaluateShots(sp, train, test, tgt, v.model, n, v.priors, uint64(s))
					if err != nil {
						t.Fatal(err)
					}
					w += stats.WithinFrac(ev.Pred, ev.Truth, 0.10)
					mape += stats.MAPE(ev.Pred, ev.Truth)
					rho += stats.Spearman(ev.Pred, ev.Truth)
					if n == 20 && ev.Lo != nil {
						cover = fmt.Sprintf("%.2f", Coverage(ev.Lo, ev.Hi, ev.Truth))
					}
				}
				k := float64(v.seeds)
				cells = append(cells, fmt.Sprintf("%.0f%% / %.1f%% / %.3f", 100*w/k, 100*mape/k, rho/k))
			}
			fmt.Printf("| sim-%s | %s | %s | %s |\n", tgt, v.name, strings.Join(cells, " | "), cover)
		}
	}
}

package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"blockprof/model"
)

// archRecord is one JSON line of `sample`.
type archRecord struct {
	Arch      model.OFA `json:"arch"`
	Canonical string    `json:"canonical"`
	MACs      int64     `json:"macs"`
	Params    int64     `json:"params"`
	Fixed     string    `json:"fixed,omitempty"`
	Active    *bool     `json:"fixed_active,omitempty"`
}

func runSample(env *Env, args []string) error {
	fs := newFlags(env, "sample", "--space S [--n N] [--seed K] [--resolution R] [--fix u,l,b] [--compat blockprofile] [--config F]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	spaceName := fs.String("space", "", "search space (see `blockprof spaces`)")
	n := fs.Int("n", 10, "number of architectures")
	seed := fs.Uint64("seed", 1, "random seed (same seed, same archs)")
	res := fs.Int("resolution", 0, "input resolution (default: the space's)")
	fix := fs.String("fix", "", "fix block b at layer l of unit u, 1-based, e.g. 2,3,e6k7 (A_{u,l,b} of the paper)")
	compat := fs.String("compat", "", "\"blockprofile\": the official code's sampler for --fix (fixed block sometimes inactive)")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, sp, err := loadSpace(env, "sample", *cfgPath, *spaceName)
	if err != nil {
		return err
	}
	r := *res
	if r == 0 {
		r = sp.Resolution
	}
	if err := sp.Check(sp.MinArch(r)); err != nil {
		return fmt.Errorf("sample: --resolution %d: allowed %v", r, sp.Resolutions)
	}
	if *n < 0 {
		return fmt.Errorf("sample: --n %d must be ≥ 0", *n)
	}
	mode := model.FixPaper
	switch *compat {
	case "":
	case "blockprofile":
		mode = model.FixBlockProfile
	default:
		return fmt.Errorf("sample: --compat %q: the only value is blockprofile", *compat)
	}
	var f *model.Fix
	if *fix != "" {
		fx, err := ParseFix(*fix)
		if err != nil {
			return err
		}
		if err := sp.CheckFix(fx); err != nil {
			return err
		}
		f = &fx
	}
	w := bufio.NewWriter(env.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	rng := model.NewRand(*seed)
	for range *n {
		if err := env.Ctx.Err(); err != nil {
			return err
		}
		a := sp.Sample(rng, r)
		var rec archRecord
		if f != nil {
			a, err = sp.SampleFixed(rng, r, *f, mode)
			if err != nil {
				return err
			}
			active := f.Active(a)
			rec.Fixed, rec.Active = f.String(), &active
		}
		net, err := sp.Network(a)
		if err != nil {
			return err
		}
		rec.Arch, rec.Canonical, rec.MACs, rec.Params = sp.ToOFA(a), a.String(), net.MACs(), net.Params()
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return nil
}

// ParseFix reads "u,l,b" (1-based unit and layer, a block key, label or
// code).
func ParseFix(s string) (model.Fix, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return model.Fix{}, fmt.Errorf("--fix %q: want u,l,b, e.g. 2,3,e6k7 (1-based unit and layer)", s)
	}
	u, err1 := strconv.Atoi(strings.TrimSpace(parts[0]))
	l, err2 := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err1 != nil || err2 != nil {
		return model.Fix{}, fmt.Errorf("--fix %q: unit and layer must be numbers, e.g. 2,3,e6k7", s)
	}
	b, err := model.ParseBlock(parts[2])
	if err != nil {
		return model.Fix{}, fmt.Errorf("--fix %q: %w", s, err)
	}
	return model.Fix{Unit: u, Layer: l, Block: b}, nil
}

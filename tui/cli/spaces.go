package cli

import (
	"encoding/json"
	"fmt"
	"strings"
)

func runSpaces(env *Env, args []string) error {
	fs := newFlags(env, "spaces", "[--config F] [--json]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	type unitOut struct {
		Unit     int      `json:"unit"`
		Channels int      `json:"channels"`
		Stride   int      `json:"stride"`
		Act      string   `json:"act"`
		SE       bool     `json:"se"`
		Depths   []int    `json:"depths"`
		Blocks   []string `json:"blocks"`
	}
	type spaceOut struct {
		Name        string    `json:"name"`
		Description string    `json:"description"`
		Family      string    `json:"family"`
		WidthMult   float64   `json:"width_mult"`
		Resolutions []int     `json:"resolutions"`
		Size        string    `json:"size"`
		Units       []unitOut `json:"units"`
	}
	var out []spaceOut
	for _, name := range cfg.Spaces.Names() {
		sp, _ := cfg.Spaces.Get(name)
		so := spaceOut{Name: name, Description: sp.Description, Family: string(sp.Family), WidthMult: sp.WidthMult,
			Resolutions: sp.Resolutions, Size: sp.Size().String()}
		for i, u := range sp.Units {
			uo := unitOut{Unit: i + 1, Channels: sp.Width(u.Width), Stride: u.Stride, Act: u.Act, SE: u.SE, Depths: u.Depths}
			if sp.Family == "bottleneck" {
				uo.Channels = u.Width
			}
			for _, b := range u.Blocks {
				uo.Blocks = append(uo.Blocks, b.Key())
			}
			so.Units = append(so.Units, uo)
		}
		out = append(out, so)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, s := range out {
		fmt.Fprintf(env.Stdout, "%s  (%s, width ×%g, resolutions %s)\n", s.Name, s.Family, s.WidthMult, joinInts(s.Resolutions))
		if s.Description != "" {
			fmt.Fprintf(env.Stdout, "  %s\n", s.Description)
		}
		fmt.Fprintf(env.Stdout, "  size: %s architectures per resolution (%s)\n", s.Size, approx(s.Size))
		for _, u := range s.Units {
			se := ""
			if u.SE {
				se = " SE"
			}
			ch := fmt.Sprintf("%d ch", u.Channels)
			if s.Family == "bottleneck" {
				ch = fmt.Sprintf("max %d ch", u.Channels)
			}
			fmt.Fprintf(env.Stdout, "  unit %d: %s, stride %d, %s%s, depth %s, blocks %s\n", u.Unit, ch, u.Stride, u.Act, se,
				joinInts(u.Depths), strings.Join(u.Blocks, " "))
		}
		fmt.Fprintln(env.Stdout)
	}
	return nil
}

// approx writes a big decimal as ≈ m × 10^e.
func approx(dec string) string {
	if len(dec) <= 4 {
		return dec
	}
	return fmt.Sprintf("≈ %c.%c × 10^%d", dec[0], dec[1], len(dec)-1)
}

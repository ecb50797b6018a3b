package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
)

func runCount(env *Env, args []string) error {
	fs := newFlags(env, "count", "--space S --in FILE|- [--config F]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	spaceName := fs.String("space", "", "search space of the architectures")
	in := fs.String("in", "-", "JSON lines with an \"arch\" field, a canonical string or an OFA object; - for stdin")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, sp, err := loadSpace(env, "count", *cfgPath, *spaceName)
	if err != nil {
		return err
	}
	r, name, err := openInput(env, *in)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	w := bufio.NewWriter(env.Stdout)
	defer w.Flush()
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var rec struct {
			Arch json.RawMessage `json:"arch"`
		}
		if err := json.Unmarshal([]byte(text), &rec); err != nil {
			return fmt.Errorf("%s:%d: not a JSON object: %v", name, line, err)
		}
		if len(rec.Arch) == 0 {
			return fmt.Errorf("%s:%d: no \"arch\" field", name, line)
		}
		a, err := sp.ParseArchJSON(rec.Arch)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		net, err := sp.Network(a)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		fmt.Fprintf(w, "{\"macs\": %d, \"params\": %d}\n", net.MACs(), net.Params())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

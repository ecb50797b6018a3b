package model

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// MaxArchLine bounds one line of a JSON-lines file of archs.
const MaxArchLine = 1 << 20

// ScanArchLines reads JSON lines with an "arch" field (a canonical string
// or an OFA object) of space sp, as `blockprof sample` writes them, and
// calls fn with each arch and its 1-based line number; blank lines are
// skipped, fn's error stops the scan and is returned as it is. Other
// errors name the file (name) and the line. `count` and `export-model
// --in` read their input with it.
func ScanArchLines(r io.Reader, name string, sp *Space, fn func(line int, a Arch) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), MaxArchLine)
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
			return fmt.Errorf("%s:%d: not a JSON object with an \"arch\" field: %v", name, line, err)
		}
		if len(rec.Arch) == 0 || string(rec.Arch) == "null" {
			return fmt.Errorf("%s:%d: no \"arch\" field", name, line)
		}
		a, err := sp.ParseArchJSON(rec.Arch)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if err := fn(line, a); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", name, line+1, err)
	}
	return nil
}

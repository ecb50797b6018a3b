package command

import (
	"context"
	"fmt"
	"strings"

	"blockprof/devices/safetext"
	"blockprof/devices/transport"
)

// ADBChecks is the command an adb command device runs before each timing
// to read the phone's state, one "key: value" line each: the screen
// (dumpsys power's wakefulness), the thermal status (dumpsys
// thermalservice; 0 none … 6 shutdown) and the CPU governors, counted.
// Every reading is best effort: a phone without a service prints nothing
// for it. $BLOCKPROF_SYSFS replaces /sys (tests only; unset on a phone).
var ADBChecks = []string{"sh", "-c", `sys=${BLOCKPROF_SYSFS:-/sys}
echo "screen: $(dumpsys power 2>/dev/null | grep -m1 -o 'mWakefulness=[A-Za-z]*' | cut -d= -f2)"
echo "thermal: $(dumpsys thermalservice 2>/dev/null | grep -m1 'Thermal Status' | grep -o '[0-9][0-9]*' | head -1)"
echo "governor: $(cat $sys/devices/system/cpu/cpu*/cpufreq/scaling_governor 2>/dev/null | sort | uniq -c | awk '{printf "%s%s×%s", s, $2, $1; s=" "}')"`}

// maxReading bounds one reading as recorded.
const maxReading = 60

// readState runs the checks and returns the readings as one line, e.g.
// "screen Asleep, thermal 0, governor schedutil×8"; a reading the phone
// did not give is "?". The text is escaped (safetext) and bounded.
func (d *Device) readState(ctx context.Context) (string, error) {
	res, err := d.tr.Run(ctx, d.checks)
	if err != nil {
		return "", err
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(res.Output), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, seen := got[k]; seen || v == "" {
			continue
		}
		got[k] = transport.Excerpt(safetext.Line(v), maxReading)
	}
	var parts []string
	for _, k := range []string{"screen", "thermal", "governor"} {
		v := got[k]
		if v == "" {
			v = "?"
		}
		parts = append(parts, fmt.Sprintf("%s %s", k, v))
	}
	return "device state: " + strings.Join(parts, ", "), nil
}

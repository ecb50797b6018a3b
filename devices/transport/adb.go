package transport

import (
	"context"
	"fmt"
	"strings"
)

// ADBOptions configure the adb transport.
type ADBOptions struct {
	// Serial picks the device (adb -s); empty uses the only one attached.
	Serial string
	// TempBase is where the run directory is made (default
	// /data/local/tmp, writable by adb's shell user).
	TempBase string
	// ADB is the adb program (default "adb").
	ADB string
}

// ADB runs processes on an Android device with `adb shell` and copies
// files with `adb push`. adb hands the device's shell one string, so every
// argument is quoted (Quote). Exit statuses need adb's shell protocol
// (Android 7 and later); older devices report every command as
// successful.
type ADB struct {
	base
	opts ADBOptions
	head []string
}

// NewADB checks o and returns the adb transport. Nothing runs until the
// first Run, Start, Dir or Put.
func NewADB(o ADBOptions) (*ADB, error) {
	if o.Serial != "" {
		if err := validWord("adb serial", o.Serial, "'\"\\`$;&|<>(){}*?!#"); err != nil {
			return nil, err
		}
	}
	if o.TempBase == "" {
		o.TempBase = "/data/local/tmp"
	}
	if err := checkBase(o.TempBase); err != nil {
		return nil, err
	}
	if o.ADB == "" {
		o.ADB = "adb"
	}
	t := &ADB{opts: o, head: []string{o.ADB}}
	name := "adb"
	if o.Serial != "" {
		t.head = append(t.head, "-s", o.Serial)
		name += " " + o.Serial
	}
	t.base = newBase(launcher{target: name, wrap: t.wrap, classify: classifyADB})
	return t, nil
}

// wrap is the adb command line that runs argv on the device. A session
// that keeps stdin (Start) asks for no pseudo-terminal (-T), so the
// protocol's lines pass unchanged.
func (t *ADB) wrap(argv []string, interactive bool) []string {
	a := append(append([]string{}, t.head...), "shell")
	if interactive {
		a = append(a, "-T")
	}
	return append(a, QuoteArgs(argv))
}

// Args is the adb command line that runs argv on the device (for logs and
// tests).
func (t *ADB) Args(argv []string) []string { return t.wrap(argv, false) }

// Local reports false.
func (*ADB) Local() bool { return false }

// Dir implements Transport: mktemp -d under TempBase on the device.
func (t *ADB) Dir(ctx context.Context) (string, error) { return t.remoteDir(ctx, t.opts.TempBase) }

// Put implements Transport with adb push.
func (t *ADB) Put(ctx context.Context, name string, data []byte) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	dir, err := t.Dir(ctx)
	if err != nil {
		return "", err
	}
	remote := dir + "/" + name
	err = withLocalFile(data, func(local string) error {
		argv := append(append([]string{}, t.head...), "push", local, remote)
		l := launcher{target: t.target, wrap: func(a []string, _ bool) []string { return a }, classify: classifyADB}
		_, err := l.run(ctx, argv)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%s: pushing %s: %w", t.target, name, err)
	}
	return remote, nil
}

// Close implements Transport: kills the started processes and removes the
// run directory on the device.
func (t *ADB) Close() error {
	return t.removeRemote(t.closeProcs())
}

// classifyADB reads adb's own failures from its stderr: the lines that
// start with "error:" or "adb:" (the device's commands print neither).
func classifyADB(code int, stderr string) error {
	var own strings.Builder
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "error:") || strings.HasPrefix(l, "adb:") {
			own.WriteString(l + "\n")
		}
	}
	msg := own.String()
	switch {
	case msg == "":
		return nil
	case matchAny(msg, "unauthorized"):
		return &setupError{"adb: the device has not authorised this computer; unlock it and accept the USB debugging prompt (" + firstLine(msg) + ")"}
	case matchAny(msg, "more than one device"):
		return &setupError{"adb: more than one device attached; set serial = \"...\" (see `adb devices`)"}
	case matchAny(msg, "offline", "no devices", "not found", "closed", "protocol fault", "connection reset",
		"device still", "failed to connect", "cannot connect", "broken pipe"):
		return disconnected("adb: %s: %s", ErrDisconnected, firstLine(msg))
	}
	return nil
}

var _ Transport = (*ADB)(nil)

package serve

import (
	"context"
	"errors"
	"strings"
	"sync"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"blockprof/tui"
	devicesview "blockprof/tui/devices"
	paretoview "blockprof/tui/pareto"
	"blockprof/tui/serve/authkeys"
)

// errNotOperator refuses an intent of a key not in the operators file.
var errNotOperator = errors.New("only the operators' keys may pause, resume or cancel (serve --operators)")

// hub is the set of running sessions' programs, to tell every session what
// one did to the shared run.
type hub struct {
	mu    sync.Mutex
	progs map[*tea.Program]struct{}
}

func newHub() *hub { return &hub{progs: map[*tea.Program]struct{}{}} }

// add registers p until the returned func is called.
func (h *hub) add(p *tea.Program) (remove func()) {
	h.mu.Lock()
	h.progs[p] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.progs, p)
		h.mu.Unlock()
	}
}

// broadcast sends msg to every program but except. Each send runs on its
// own goroutine, which ends once the program takes the message or ends.
func (h *hub) broadcast(msg tea.Msg, except *tea.Program) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p := range h.progs {
		if p != except {
			go p.Send(msg)
		}
	}
}

// sessionDeps is one session's handle on the shared run: its pauses,
// resumes and cancels are checked against the operators file, logged, and
// announced to every other session with who sent them.
type sessionDeps struct {
	tui.Deps
	sv  *server
	key ssh.PublicKey
	who string
	// self is the session's program, set once it exists.
	mu   sync.Mutex
	self *tea.Program
}

// Actor is implemented by deps whose run records who sent an intent
// (tui/app over the engine session): then every session's progress, late
// joiners' too, says who paused or cancelled a device.
type Actor interface {
	PauseBy(device, who string) error
	ResumeBy(device, who string) error
	CancelBy(device, who string) error
}

func (d *sessionDeps) Pause(dev string) error {
	return d.intent("pause", dev, d.by(d.Deps.Pause, Actor.PauseBy))
}
func (d *sessionDeps) Resume(dev string) error {
	return d.intent("resume", dev, d.by(d.Deps.Resume, Actor.ResumeBy))
}
func (d *sessionDeps) Cancel(dev string) error {
	return d.intent("cancel", dev, d.by(d.Deps.Cancel, Actor.CancelBy))
}

// by is the intent on behalf of the session's user when the deps record
// who sent it, else plain.
func (d *sessionDeps) by(plain func(string) error, acting func(Actor, string, string) error) func(string) error {
	if a, ok := d.Deps.(Actor); ok {
		return func(dev string) error { return acting(a, dev, d.who) }
	}
	return plain
}

// Searcher is implemented by deps whose searches name who started them
// (every session sees them).
type Searcher interface {
	SearchBy(ctx context.Context, req paretoview.SearchRequest, who string) (<-chan paretoview.SearchUpdate, error)
}

// Search is the shared session's search on behalf of this session's user.
func (d *sessionDeps) Search(ctx context.Context, req paretoview.SearchRequest) (<-chan paretoview.SearchUpdate, error) {
	if s, ok := d.Deps.(Searcher); ok {
		return s.SearchBy(ctx, req, d.who)
	}
	return d.Deps.Search(ctx, req)
}

// Remeasure is an intent like the others: operators only, logged and
// announced.
func (d *sessionDeps) Remeasure(dev string) (int, error) {
	var n int
	err := d.intent("re-measure", dev, func(dev string) error {
		var err error
		n, err = d.Deps.Remeasure(dev)
		return err
	})
	return n, err
}

func (d *sessionDeps) setProgram(p *tea.Program) {
	d.mu.Lock()
	d.self = p
	d.mu.Unlock()
}

func (d *sessionDeps) intent(action, dev string, f func(string) error) error {
	if err := d.sv.mayOperate(d.key); err != nil {
		d.sv.logf("refused %s %s by %s: %v", action, quote(dev), d.who, err)
		return err
	}
	if err := f(dev); err != nil {
		return err
	}
	d.sv.logf("%s %s by %s", action, quote(dev), d.who)
	d.mu.Lock()
	self := d.self
	d.mu.Unlock()
	d.sv.hub.broadcast(devicesview.NoticeMsg{Device: dev, Action: action, By: d.who}, self)
	return nil
}

// mayOperate checks key against the operators file (re-read each time, so
// edits apply at once); without one every session may.
func (sv *server) mayOperate(key ssh.PublicKey) error {
	if sv.opts.Operators == "" {
		return nil
	}
	entries, err := authkeys.Read(sv.opts.Operators, sv.opts.Location)
	if err != nil {
		return err
	}
	m := key.Marshal()
	for _, e := range entries {
		if e.Bad == "" && string(e.Key.Marshal()) == string(m) {
			return nil
		}
	}
	return errNotOperator
}

// who names a session's key for the other sessions: the key's comment in
// the authorized keys file, else its fingerprint; control characters are
// dropped (it is drawn in other people's terminals).
func who(e authkeys.Entry, key ssh.PublicKey) string {
	c := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, e.Comment)
	c = strings.TrimSpace(c)
	if r := []rune(c); len(r) > 64 {
		c = string(r[:64])
	}
	if c == "" {
		return gossh.FingerprintSHA256(key)
	}
	return c
}

package engine

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"
)

// msg is a test value: keyed when key is not empty.
type msg struct {
	key string
	n   int
}

func msgKey(m msg) (string, bool) { return m.key, m.key != "" }

func drain[T any](ch <-chan T) []T {
	var out []T
	for v := range ch {
		out = append(out, v)
	}
	return out
}

func TestBrokerDelivery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		buffer  int
		publish []msg
		want    []msg
		dropped uint64
	}{
		{"in order", 8, []msg{{"", 1}, {"", 2}, {"", 3}}, []msg{{"", 1}, {"", 2}, {"", 3}}, 0},
		{"drops past the buffer", 2, []msg{{"", 1}, {"", 2}, {"", 3}, {"", 4}}, []msg{{"", 1}, {"", 2}}, 2},
		{"latest wins in place", 8, []msg{{"a", 1}, {"", 2}, {"a", 3}, {"b", 4}, {"a", 5}}, []msg{{"a", 5}, {"", 2}, {"b", 4}}, 0},
		{"keyed never dropped", 1, []msg{{"", 1}, {"", 2}, {"a", 3}, {"b", 4}}, []msg{{"", 1}, {"a", 3}, {"b", 4}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The subscriber's queue, as its goroutine sees it when the
			// reader is slow.
			s := &subscriber[msg]{pending: map[string]int{}, wake: make(chan struct{}, 1)}
			var dropped uint64
			for _, m := range tc.publish {
				k, keyed := msgKey(m)
				if s.push(m, k, keyed, tc.buffer) {
					dropped++
				}
			}
			var got []msg
			for {
				v, ok, _ := s.pop()
				if !ok {
					break
				}
				got = append(got, v)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if dropped != tc.dropped {
				t.Errorf("dropped %d, want %d", dropped, tc.dropped)
			}
		})
	}
}

// TestBrokerNeverBlocks: a subscriber that reads nothing until Close
// costs the publisher nothing and gets a bounded queue.
func TestBrokerNeverBlocks(t *testing.T) {
	b := NewBroker(3, msgKey)
	ch := b.Subscribe(context.Background())
	done := make(chan struct{})
	go func() {
		for i := range 10000 {
			b.Publish(msg{"", i})
			b.Publish(msg{"p", i})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked")
	}
	b.Close()
	got := drain(ch)
	// At most: one value held by the subscriber's goroutine, 3 queued,
	// the latest keyed value.
	if len(got) > 5 || !slices.Contains(got, msg{"p", 9999}) {
		t.Errorf("got %v", got)
	}
	if b.Dropped() < 10000-4 {
		t.Errorf("dropped %d", b.Dropped())
	}
}

func TestBrokerReplaysLatestToLateSubscribers(t *testing.T) {
	b := NewBroker(4, msgKey)
	b.Publish(msg{"a", 1})
	b.Publish(msg{"", 2}) // unkeyed: not replayed
	b.Publish(msg{"b", 3})
	b.Publish(msg{"a", 4})
	b.Close()
	b.Publish(msg{"a", 5}) // after Close: ignored
	got := drain(b.Subscribe(context.Background()))
	if want := []msg{{"a", 4}, {"b", 3}}; !slices.Equal(got, want) {
		t.Errorf("late subscriber got %v, want %v", got, want)
	}
}

func TestBrokerUnsubscribeEndsGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	b := NewBroker[msg](4, nil)
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Subscribe(ctx)
	other := b.Subscribe(context.Background())
	b.Publish(msg{n: 1})
	if v := <-ch; v.n != 1 {
		t.Errorf("got %v", v)
	}
	if b.Subscribers() != 2 {
		t.Errorf("%d subscribers, want 2", b.Subscribers())
	}
	cancel()
	if _, ok := <-ch; ok {
		// A value may still be in flight; the channel must close after.
		for range ch {
		}
	}
	b.Publish(msg{n: 2}) // the other one never reads: no block
	b.Close()
	if got := drain(other); len(got) != 2 {
		t.Errorf("other got %v", got)
	}
	checkGoroutines(t, before)
	if b.Subscribers() != 0 {
		t.Errorf("%d subscribers left", b.Subscribers())
	}
}

func TestEventKeys(t *testing.T) {
	for _, tc := range []struct {
		e     Event
		key   string
		keyed bool
	}{
		{Progress{Device: "cpu"}, "progress\x00cpu", true},
		{RunDone{}, "done", true},
		{Measured{Device: "cpu"}, "", false},
		{DeviceError{Device: "cpu"}, "", false},
	} {
		k, ok := eventKey(tc.e)
		if k != tc.key || ok != tc.keyed {
			t.Errorf("eventKey(%T) = %q %v", tc.e, k, ok)
		}
	}
}

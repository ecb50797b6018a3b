package engine

import (
	"context"
	"sync"
	"sync/atomic"
)

// Broker fans values out to subscribers without ever blocking the
// publisher: each subscriber has its own queue drained by its own
// goroutine. Values with a key (see NewBroker) are coalesced per
// subscriber, latest wins, and never dropped; other values are queued up
// to the buffer size and dropped beyond it (Dropped counts them). The
// latest value of each key is also replayed to new subscribers, so a view
// that subscribes late still sees every device's state.
type Broker[T any] struct {
	key    func(T) (string, bool)
	buffer int

	mu      sync.Mutex
	subs    map[*subscriber[T]]struct{}
	latest  map[string]T
	order   []string // keys in first-seen order, for replay
	closed  bool
	dropped atomic.Uint64
}

// NewBroker makes a broker. buffer bounds each subscriber's queue of
// unkeyed values (at least 1); key, if not nil, says which values are
// latest-wins and under which key.
func NewBroker[T any](buffer int, key func(T) (string, bool)) *Broker[T] {
	if buffer < 1 {
		buffer = 1
	}
	return &Broker[T]{key: key, buffer: buffer, subs: map[*subscriber[T]]struct{}{}, latest: map[string]T{}}
}

type slot[T any] struct {
	v   T
	key string // "" for an unkeyed value
}

type subscriber[T any] struct {
	mu      sync.Mutex
	queue   []slot[T]
	pending map[string]int // key → index in queue
	unkeyed int
	closed  bool
	wake    chan struct{}
}

func (s *subscriber[T]) push(v T, key string, keyed bool, buffer int) (dropped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if keyed {
		if i, ok := s.pending[key]; ok {
			s.queue[i].v = v
			return false
		}
		s.pending[key] = len(s.queue)
		s.queue = append(s.queue, slot[T]{v: v, key: key})
	} else {
		if s.unkeyed >= buffer {
			return true
		}
		s.unkeyed++
		s.queue = append(s.queue, slot[T]{v: v})
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return false
}

// pop takes the oldest value; ok is false when the queue is empty.
func (s *subscriber[T]) pop() (v T, ok, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return v, false, s.closed
	}
	first := s.queue[0]
	var zero slot[T]
	s.queue[0] = zero
	s.queue = s.queue[1:]
	if first.key != "" {
		delete(s.pending, first.key)
	} else {
		s.unkeyed--
	}
	for k, i := range s.pending {
		s.pending[k] = i - 1
	}
	return first.v, true, s.closed
}

// Publish hands v to every subscriber. It never blocks.
func (b *Broker[T]) Publish(v T) {
	key, keyed := "", false
	if b.key != nil {
		key, keyed = b.key(v)
		if key == "" {
			keyed = false
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if keyed {
		if _, ok := b.latest[key]; !ok {
			b.order = append(b.order, key)
		}
		b.latest[key] = v
	}
	for s := range b.subs {
		if s.push(v, key, keyed, b.buffer) {
			b.dropped.Add(1)
		}
	}
}

// Subscribe returns a channel of the values published from now on, after
// the latest value of every key. The channel is closed when ctx ends or,
// once drained, after Close. Cancel ctx to unsubscribe: a subscriber that
// stops reading without cancelling keeps its goroutine until Close's
// values are taken.
func (b *Broker[T]) Subscribe(ctx context.Context) <-chan T {
	s := &subscriber[T]{pending: map[string]int{}, wake: make(chan struct{}, 1)}
	out := make(chan T)
	b.mu.Lock()
	for _, k := range b.order {
		s.push(b.latest[k], k, true, b.buffer)
	}
	if b.closed {
		s.closed = true
	} else {
		b.subs[s] = struct{}{}
	}
	b.mu.Unlock()
	go b.pump(ctx, s, out)
	return out
}

func (b *Broker[T]) pump(ctx context.Context, s *subscriber[T], out chan<- T) {
	defer close(out)
	defer b.remove(s)
	for {
		v, ok, closed := s.pop()
		if !ok {
			if closed {
				return
			}
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case out <- v:
		case <-ctx.Done():
			return
		}
	}
}

func (b *Broker[T]) remove(s *subscriber[T]) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// Close ends the broker: later Publish calls are ignored, and every
// subscription's channel closes once its queue is delivered.
func (b *Broker[T]) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Dropped counts the unkeyed values dropped because a subscriber's queue
// was full, over all subscribers.
func (b *Broker[T]) Dropped() uint64 { return b.dropped.Load() }

// Subscribers is the number of live subscriptions.
func (b *Broker[T]) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

package serve

import (
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// BenchmarkIdleUnauthenticated opens 300 TCP connections that never speak
// to a server with a 2 s handshake timeout and reports how many the
// server closed and how long after the timeout (each connection measured
// from its own dial):
//
//	go test -run '^$' -bench IdleUnauthenticated -benchtime 1x ./tui/serve
func BenchmarkIdleUnauthenticated(b *testing.B) {
	const (
		n       = 300
		timeout = 2 * time.Second
	)
	srv := start(b, b.TempDir(), authorizedLine(newKey(b)), func(o *Options) { o.HandshakeTimeout = timeout })
	for b.Loop() {
		res := make(chan time.Duration, n)
		conns := make([]net.Conn, 0, n)
		for i := 0; i < n; i++ {
			t0 := time.Now()
			conn, err := net.Dial("tcp", srv.addr)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, conn)
			go func() {
				_, _ = io.Copy(io.Discard, conn) // ends when the server closes it
				res <- time.Since(t0) - timeout
			}()
		}
		var late []time.Duration
		deadline := time.After(timeout + patience)
	wait:
		for len(late) < n {
			select {
			case d := <-res:
				late = append(late, d)
			case <-deadline:
				break wait
			}
		}
		for _, c := range conns {
			c.Close()
		}
		slices.Sort(late)
		b.ReportMetric(float64(len(late)), "closed")
		b.ReportMetric(float64(n-len(late)), "open")
		if len(late) > 0 {
			b.ReportMetric(ms(late[0]), "min-ms-past-timeout")
			b.ReportMetric(ms(late[len(late)/2]), "p50-ms-past-timeout")
			b.ReportMetric(ms(late[len(late)*99/100]), "p99-ms-past-timeout")
			b.ReportMetric(ms(late[len(late)-1]), "max-ms-past-timeout")
		}
		if len(late) < n {
			b.Errorf("%d of %d idle connections still open %s after the handshake timeout", n-len(late), n, patience)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

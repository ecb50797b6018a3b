package ort

import "testing"

func TestModelBuffer(t *testing.T) {
	for _, n := range []int{1, 4096, 3<<20 + 7} {
		b, release := modelBuffer(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("modelBuffer(%d): len %d cap %d, want len 0 and cap ≥ %d", n, len(b), cap(b), n)
		}
		b = b[:n]
		for i := range b {
			b[i] = byte(i)
		}
		if b[n-1] != byte(n-1) {
			t.Fatalf("modelBuffer(%d): not writable", n)
		}
		release()
	}
}

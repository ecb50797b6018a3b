package writers

import (
	"context"
	"slices"
	"testing"

	"blockprof/model/export"
	"blockprof/model/modeltest"
)

// TestEveryKnownFormatIsWritten: each format blockprof knows has a writer
// here, and each writes a minimal network.
func TestEveryKnownFormatIsWritten(t *testing.T) {
	w := New()
	if got, want := w.Formats(), export.KnownFormats(); !slices.Equal(got, want) {
		t.Fatalf("formats %v, want %v", got, want)
	}
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	net, err := sp.Network(sp.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range export.KnownFormats() {
		b, err := w.Write(context.Background(), net, export.Request{Format: f, Seed: 1})
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %d bytes, %v", f, len(b), err)
		}
	}
}

package session

import (
	"slices"
	"strings"
	"testing"
)

func TestParseTransferPlan(t *testing.T) {
	tests := []struct {
		in      string
		want    TransferPlan
		wantErr string
	}{
		{"transfer=20,prior=h100", TransferPlan{N: 20, Priors: []string{"h100"}, Step: 1, Pool: DefaultTransferPool}, ""},
		{"transfer=20,prior=h100,h200,pool=500,seed=3", TransferPlan{N: 20, Priors: []string{"h100", "h200"}, Step: 1, Pool: 500, Seed: 3}, ""},
		{"prior=a,b, transfer=5", TransferPlan{N: 5, Priors: []string{"a", "b"}, Step: 1, Pool: DefaultTransferPool}, ""},
		{"confident=5,budget=40,prior=h100,step=4", TransferPlan{N: 40, Width: 5, Priors: []string{"h100"}, Step: 4, Pool: DefaultTransferPool}, ""},
		{"transfer=20,prior=h100,macs", TransferPlan{N: 20, Priors: []string{"h100", "macs"}, Step: 1, Pool: DefaultTransferPool}, ""},
		{"transfer=20", TransferPlan{}, "no prior=DEV"},
		{"prior=h100", TransferPlan{}, "no transfer=N"},
		{"transfer=2,prior=a", TransferPlan{}, `transfer="2": want a whole number from 3 to 10000`},
		{"transfer=x,prior=a", TransferPlan{}, "want a whole number"},
		{"transfer=20,a,prior=b", TransferPlan{}, `"a" is not key=value`},
		{"transfer=20,prior=a,a", TransferPlan{}, "prior device a is named twice"},
		{"transfer=20,prior=", TransferPlan{}, "prior= names no device"},
		{"transfer=20,prior=a,uniform=5", TransferPlan{}, `unknown key "uniform"`},
		{"confident=5,prior=a", TransferPlan{}, "confident=W needs budget=N"},
		{"confident=0,budget=9,prior=a", TransferPlan{}, "above 0 and at most 1000"},
		{"confident=NaN,budget=9,prior=a", TransferPlan{}, "above 0 and at most 1000"},
		{"confident=5,transfer=9,prior=a", TransferPlan{}, "exclude each other"},
		{"transfer=9,budget=9,prior=a", TransferPlan{}, "budget=N is for confident=W"},
		{"transfer=30,pool=20,prior=a", TransferPlan{}, "30 archs asked from a pool of 20"},
		{"transfer=20,prior=a,seed=-1", TransferPlan{}, "not a non-negative integer"},
	}
	for _, tc := range tests {
		got, err := ParseTransferPlan(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.N != tc.want.N || got.Width != tc.want.Width || got.Step != tc.want.Step || got.Pool != tc.want.Pool || got.Seed != tc.want.Seed || !slices.Equal(got.Priors, tc.want.Priors) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if !IsTransferPlan(tc.in) {
			t.Errorf("%q: IsTransferPlan false", tc.in)
		}
	}
	for _, s := range []string{"", "uniform=200,fixed=5", "transferx=3"} {
		if IsTransferPlan(s) {
			t.Errorf("%q: IsTransferPlan true", s)
		}
	}
}

func FuzzParseTransferPlan(f *testing.F) {
	for _, s := range []string{"transfer=20,prior=h100", "confident=5,budget=40,prior=a,b,step=2", "transfer=3,prior=a,pool=10", ",=,", "prior=a,a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseTransferPlan(s)
		if err != nil {
			return
		}
		if p.N < 3 || p.N > MaxTransferArchs || p.N > p.Pool || p.Pool > MaxTransferPool || len(p.Priors) == 0 || p.Step < 1 {
			t.Fatalf("%q: out of bounds %+v", s, p)
		}
		if p.Width < 0 || p.Width > 1000 || p.Width != p.Width {
			t.Fatalf("%q: width %v", s, p.Width)
		}
		for _, d := range p.Priors {
			if d == "" || strings.Contains(d, ",") {
				t.Fatalf("%q: prior %q", s, d)
			}
		}
	})
}

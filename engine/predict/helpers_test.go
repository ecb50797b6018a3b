package predict

import (
	"os"
	"testing"

	"blockprof/model"
	"blockprof/model/modeltest"
)

func loadSpace(t testing.TB, name string) *model.Space {
	t.Helper()
	return modeltest.Space(t, name)
}

// sharedData finds ../shared/data beside the repository, or skips.
func sharedData(t testing.TB) string {
	t.Helper()
	return modeltest.SharedData(t)
}

func readFile(t testing.TB, sp *model.Space, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadRecords(f, path, sp)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

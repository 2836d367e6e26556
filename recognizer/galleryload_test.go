package recognizer_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/gallery"
	"github.com/facecluster/facecluster/internal/testutil"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/store"
)

// listLoad is how the recognizer loaded the whole gallery before loads were streamed: every
// row read into a list of store.Examples, converted into a second list of gallery.Examples,
// then Replace. It is the reference the streamed load must equal, and the "before" of
// BenchmarkGalleryLoad.
func listLoad(ctx context.Context, st *store.Store, g *gallery.Gallery) (recognizer.LoadStats, error) {
	v, examples, err := st.LoadGallery(ctx)
	if err != nil {
		return recognizer.LoadStats{}, err
	}
	list := make([]gallery.Example, 0, len(examples))
	skipped := 0
	for _, e := range examples {
		if len(e.Descriptor) != gallery.Dim || (e.Model != "" && e.Model != face.ModelVersion) || !finiteAll(e.Descriptor) {
			skipped++
			continue
		}
		var d [gallery.Dim]float32
		copy(d[:], e.Descriptor)
		list = append(list, gallery.Example{ID: e.ID, PersonID: e.PersonID, Person: e.Person, Descriptor: d})
	}
	if err := g.Replace(list); err != nil {
		return recognizer.LoadStats{}, err
	}
	return recognizer.LoadStats{Version: v, Examples: len(list), Skipped: skipped}, nil
}

func finiteAll(d []float32) bool {
	for _, v := range d {
		if v != v || v > 3.4e38 || v < -3.4e38 {
			return false
		}
	}
	return true
}

// TestStreamedLoadEqualsTheListLoad: the streamed full load (recognizer.LoadGallery) gives the
// same version, people, examples (ids, names, descriptors), skipped count and search answers
// as the list-based load it replaced, on SQLite and on a real MariaDB.
func TestStreamedLoadEqualsTheListLoad(t *testing.T) {
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	for _, driver := range []string{store.DriverSQLite, store.DriverMySQL} {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := openStoreOn(t, driver)
			seedGallery(t, st, n)
			// Through the store's API: a new person, a rename, a removed example, and an
			// example of another model, which both loads leave out.
			p, err := st.CreatePerson(ctx, "Zoë")
			if err != nil {
				t.Fatal(err)
			}
			desc := make([]float32, gallery.Dim)
			for i := range desc {
				desc[i] = float32(i%7) * 0.01
			}
			if _, err := st.AddExample(ctx, store.NewExample{PersonID: p.ID, Descriptor: desc, Model: face.ModelVersion, Source: "/known/zoe.jpg"}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.AddExample(ctx, store.NewExample{PersonID: p.ID, Descriptor: desc, Model: "another-model", Source: "/known/zoe2.jpg"}); err != nil {
				t.Fatal(err)
			}
			if err := st.RenamePerson(ctx, 3, "renamed three"); err != nil {
				t.Fatal(err)
			}
			if err := st.RemoveExample(ctx, 10); err != nil {
				t.Fatal(err)
			}

			old, streamed := gallery.New(), gallery.New()
			ls, err := listLoad(ctx, st, old)
			if err != nil {
				t.Fatal(err)
			}
			ss, err := recognizer.LoadGallery(ctx, st, streamed)
			if err != nil {
				t.Fatal(err)
			}
			if ss.Version != ls.Version || ss.Examples != ls.Examples || ss.Skipped != ls.Skipped || ss.Skipped != 1 || ss.Examples != n {
				t.Fatalf("streamed %+v, list %+v (want %d examples, 1 skipped)", ss, ls, n)
			}
			// Zoë's example of another model is counted as stale; she still has a current one.
			if ss.StaleByPerson[p.ID] != 1 || len(ss.StaleByPerson) != 1 || len(ss.StalePeople) != 0 {
				t.Fatalf("stale examples by person %v, stale people %v; want Zoë (%d) with 1, nobody left without a current example", ss.StaleByPerson, ss.StalePeople, p.ID)
			}
			if streamed.Len() != old.Len() || streamed.People() != old.People() {
				t.Fatalf("streamed: %d examples of %d people; list: %d of %d", streamed.Len(), streamed.People(), old.Len(), old.People())
			}
			byID := func(s []gallery.Example) []gallery.Example {
				slices.SortFunc(s, func(a, b gallery.Example) int { return cmp.Compare(a.ID, b.ID) })
				return s
			}
			se, oe := byID(streamed.Examples()), byID(old.Examples())
			if !slices.Equal(se, oe) {
				for i := range se {
					if se[i] != oe[i] {
						t.Fatalf("example %d: streamed %+v, list %+v", i, se[i], oe[i])
					}
				}
			}
			r := rand.New(rand.NewPCG(5, 5))
			for i := 0; i < 300; i++ {
				q := oe[r.IntN(len(oe))].Descriptor
				for k := range q {
					q[k] += float32(r.NormFloat64() * 0.03)
				}
				if a, b := streamed.Match(q, face.DefaultThreshold), old.Match(q, face.DefaultThreshold); a != b {
					t.Fatalf("Match: streamed %+v, list %+v", a, b)
				}
				if a, b := streamed.Nearest(q, 10), old.Nearest(q, 10); !slices.Equal(a, b) {
					t.Fatalf("Nearest: streamed %+v, list %+v", a, b)
				}
			}
			// The incremental path still applies on top of a streamed load.
			if err := st.RenamePerson(ctx, p.ID, "Zoe"); err != nil {
				t.Fatal(err)
			}
			d, err := st.GalleryChanges(ctx, ss.Version)
			if err != nil || d.Full || len(d.People) != 1 {
				t.Fatalf("changes: %+v, %v", d, err)
			}
			var ex []gallery.Example
			for _, e := range d.Examples {
				if e.Model == face.ModelVersion {
					var v [gallery.Dim]float32
					copy(v[:], e.Descriptor)
					ex = append(ex, gallery.Example{ID: e.ID, PersonID: e.PersonID, Person: e.Person, Descriptor: v})
				}
			}
			if err := streamed.ReplacePeople(d.People, ex); err != nil {
				t.Fatal(err)
			}
			var q [gallery.Dim]float32
			copy(q[:], desc)
			if m := streamed.Match(q, face.DefaultThreshold); m.Person != "Zoe" || m.PersonID != p.ID {
				t.Fatalf("after the rename: %+v", m)
			}
		})
	}
}

// BenchmarkGalleryLoad measures a recognizer's full gallery load (what it does at start) from
// SQLite and MariaDB at 100 000 and 1 000 000 seeded descriptors ($FACECLUSTER_BENCH_GALLERY_SIZES,
// comma-separated, to change them): "list" is the former load (every row held as a
// store.Example, then as a gallery.Example, then Replace), "streamed" is recognizer.LoadGallery.
// Besides wall and process CPU time per load (and MariaDB's, read from /proc) it reports
// the process's peak RSS during the loads (VmHWM, reset before them through
// /proc/self/clear_refs) above the RSS before them, the peak Go heap sampled every 2 ms, and
// the heap the loaded gallery keeps.
func BenchmarkGalleryLoad(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if v := os.Getenv("FACECLUSTER_BENCH_GALLERY_SIZES"); v != "" {
		sizes = sizes[:0]
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("FACECLUSTER_BENCH_GALLERY_SIZES=%q: %v", v, err)
			}
			sizes = append(sizes, n)
		}
	}
	for _, driver := range []string{store.DriverSQLite, store.DriverMySQL} {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/n=%d", driver, n), func(b *testing.B) {
				st := openStoreOn(b, driver)
				start := time.Now()
				seedGallery(b, st, n)
				b.Logf("seeded %d examples in %s", n, time.Since(start).Round(time.Millisecond))
				loads := map[string]func(context.Context, *store.Store, *gallery.Gallery) (recognizer.LoadStats, error){
					"list": listLoad,
					"streamed": func(ctx context.Context, st *store.Store, g *gallery.Gallery) (recognizer.LoadStats, error) {
						return recognizer.LoadGallery(ctx, st, g)
					},
				}
				for _, how := range []string{"list", "streamed"} {
					b.Run(how, func(b *testing.B) { benchLoad(b, st, driver, n, loads[how]) })
				}
			})
		}
	}
}

func benchLoad(b *testing.B, st *store.Store, driver string, n int, load func(context.Context, *store.Store, *gallery.Gallery) (recognizer.LoadStats, error)) {
	ctx := context.Background()
	runtime.GC()
	debug.FreeOSMemory()
	rss0 := procStatusKB("VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset VmHWM (%v): the peak RSS includes earlier work", err)
	}
	heap0 := heapBytes()
	stop := sampleHeap()
	b.ReportAllocs()
	var kept uint64
	cpu0, db0 := testutil.CPUTime(), dbServerCPU(driver)
	for b.Loop() {
		g := gallery.New()
		s, err := load(ctx, st, g)
		if err != nil {
			b.Fatal(err)
		}
		if s.Examples != n {
			b.Fatalf("loaded %d examples, want %d", s.Examples, n)
		}
		b.StopTimer()
		runtime.GC()
		kept = heapBytes() - heap0
		runtime.KeepAlive(g)
		b.StartTimer()
	}
	cpu, db := testutil.CPUTime()-cpu0, dbServerCPU(driver)-db0
	hwm := procStatusKB("VmHWM")
	peakHeap := stop()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/load")
	if driver == store.DriverMySQL && db > 0 {
		b.ReportMetric(float64(db.Milliseconds())/float64(b.N), "db-cpu-ms/load")
	}
	b.ReportMetric(float64(hwm-rss0)/1024, "peak-rss-MB")
	b.ReportMetric(float64(hwm)/1024, "vmhwm-MB")
	b.ReportMetric(float64(peakHeap-heap0)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(kept)/(1<<20), "gallery-MB")
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func heapBytes() uint64 {
	metrics.Read(heapSample)
	return heapSample[0].Value.Uint64()
}

// sampleHeap records the largest Go heap (objects, live or not yet collected) seen every 2 ms
// until the returned stop is called, which returns it.
func sampleHeap() (stop func() uint64) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// dbServerCPU is the CPU time of the MySQL/MariaDB servers on this machine (found in /proc; 0 for
// SQLite, which runs in this process). On a shared server it includes other clients' work.
func dbServerCPU(driver string) time.Duration {
	if driver != store.DriverMySQL {
		return 0
	}
	ents, _ := os.ReadDir("/proc")
	var ticks int64
	for _, e := range ents {
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if c := strings.TrimSpace(string(comm)); err != nil || (c != "mariadbd" && c != "mysqld") {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		_, rest, ok := strings.Cut(string(stat), ") ")
		if f := strings.Fields(rest); ok && len(f) > 12 {
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += ut + st
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ = 100
}

// procStatusKB reads a "Vm…: N kB" line of /proc/self/status (0 where there is none).
func procStatusKB(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseUint(strings.Fields(rest)[0], 10, 64)
			return v
		}
	}
	return 0
}

package nets

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/facecluster/facecluster/engine/face/internal/imgtensor"
	"github.com/facecluster/facecluster/engine/face/internal/reftest"
	"github.com/facecluster/facecluster/engine/internal/nn"
)

// threadCPU is the calling thread's CPU time.
func threadCPU() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

// TestRecognitionLayerProfile prints the recognition net's CPU time per layer (this thread's,
// median and minimum of 300 passes; with FACECLUSTER_LAYER_PROFILE_FACES=n, per face of a
// batch of n). Run with FACECLUSTER_LAYER_PROFILE=1 and -v; skipped otherwise. The per-face
// layers of a batch are timed face by face.
func TestRecognitionLayerProfile(t *testing.T) {
	if os.Getenv("FACECLUSTER_LAYER_PROFILE") == "" {
		t.Skip("set FACECLUSTER_LAYER_PROFILE=1 to print the per-layer profile")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n, err := NewRecognition(loadWeights(t, "face_recognition_model"))
	if err != nil {
		t.Fatal(err)
	}
	img := imgtensor.FromImage(reftest.NPMSamples(t).Decode(t, "sample1.jpg"))

	nfaces := 1
	if v := os.Getenv("FACECLUSTER_LAYER_PROFILE_FACES"); v != "" {
		fmt.Sscan(v, &nfaces)
	}
	faces := make([]Crop, nfaces)
	for i := range faces {
		faces[i] = Crop{Img: img, X: 800 + 10*i, Y: 300, W: 200, H: 200}
	}
	sc := n.newScratch(nfaces)
	times := map[string][]time.Duration{}
	var order []string
	record := func(name string, t0 time.Duration, faces int) time.Duration {
		t1 := threadCPU()
		if _, ok := times[name]; !ok {
			order = append(order, name)
		}
		times[name] = append(times[name], (t1-t0)/time.Duration(faces))
		return threadCPU()
	}
	perFace := func(name string, t0 time.Duration) time.Duration { return record(name, t0, 1) }
	rec := func(name string, t0 time.Duration) time.Duration { return record(name, t0, nfaces) }
	for it := 0; it < 300; it++ {
		t0 := threadCPU()
		for i, face := range faces {
			x := sc.input
			faceInputTo(x, face)
			t0 = perFace("input", t0)
			n.stem.ApplyTo(sc.stem, x)
			t0 = perFace("stem", t0)
			nn.MaxPoolTo(sc.pool, sc.stem, 3, 2, nn.Padding{})
			x = sc.pool
			t0 = perFace("maxpool", t0)
			for b := range batchFrom {
				bs := &sc.blocks[b]
				j := i
				if b < batchFrom-1 {
					j = 0
				}
				n.blocks[b].apply(x, bs.mid[0], bs.out[j], bs.res[j])
				x = bs.res[j]
				t0 = perFace(fmt.Sprintf("%02d block %dx%dx%d", b, x.H, x.W, x.C), t0)
			}
		}
		k := nfaces
		xs := sc.blocks[batchFrom-1].res[:k]
		for b := batchFrom; b < len(n.blocks); b++ {
			bs := &sc.blocks[b]
			bl := &n.blocks[b]
			bl.conv1.ApplyBatch(bs.mid[:k], xs)
			t0 = rec(fmt.Sprintf("%02d conv1 %dx%dx%d->%d down=%v", b, xs[0].H, xs[0].W, xs[0].C, bl.out, bl.down), t0)
			bl.conv2.ApplyBatch(bs.out[:k], bs.mid[:k])
			t0 = rec(fmt.Sprintf("%02d conv2 %dx%d %d", b, bl.size, bl.size, bl.out), t0)
			for i := range xs {
				bl.addShortcut(xs[i], bs.out[i], bs.res[i])
			}
			t0 = rec(fmt.Sprintf("%02d add", b), t0)
			xs = bs.res[:k]
		}
		for _, x := range xs {
			n.head(x)
		}
		rec("head", t0)
	}
	var total, totalMin time.Duration
	for _, name := range order {
		d := times[name]
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		med := d[len(d)/2]
		total += med
		totalMin += d[0]
		fmt.Printf("%-40s med %7.1f us  min %7.1f us\n", name, float64(med)/1e3, float64(d[0])/1e3)
	}
	fmt.Printf("total median %.2f ms per face (sum of minima %.2f ms)\n", float64(total)/1e6, float64(totalMin)/1e6)
}

package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/facecluster/facecluster/internal/testutil/browser"
	"github.com/facecluster/facecluster/store"
)

// TestBrowserPeopleLifecycle creates, renames, merges and deletes people through the pages in
// a real browser, reading the confirmations a person would read.
func TestBrowserPeopleLifecycle(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	b := browser.New(t, 1280, 900)
	base := u.http.URL

	b.Do("create Ann",
		chromedp.Navigate(base+"/people"),
		chromedp.SendKeys(chromedp.CSS("#new-name"), "Ann"),
		chromedp.Submit(chromedp.CSS("#new-name")),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	b.WaitText(".flash.ok", "Ann was created.", 15*time.Second)
	b.Do("rename Ann",
		chromedp.Clear(chromedp.CSS("#rename")),
		chromedp.SendKeys(chromedp.CSS("#rename"), "Ann Lee"),
		chromedp.Submit(chromedp.CSS("#rename")),
	)
	b.WaitText("h1", "Ann Lee", 15*time.Second)

	bob := u.person("Bob")
	ann, err := u.st.PersonByName(context.Background(), "Ann Lee")
	if err != nil {
		t.Fatal(err)
	}
	u.seedImage("both.jpg", []seedFace{{person: ann.ID, distance: 0.3, box: box(10, 10, 40, 40)}, {person: bob, distance: 0.35, box: box(100, 10, 40, 40)}})
	u.seedImage("ann.jpg", []seedFace{{person: ann.ID, distance: 0.33, box: box(10, 10, 40, 40)}})

	b.Do("merge Ann Lee into Bob",
		chromedp.Navigate(fmt.Sprintf("%s/people/%d", base, ann.ID)),
		chromedp.SetValue(chromedp.CSS("#merge-into"), fmt.Sprint(bob)),
		chromedp.Submit(chromedp.CSS("#merge-into")),
	)
	b.WaitText("main", "Merge Ann Lee into Bob?", 15*time.Second)
	b.WaitText("main", "move Ann Lee's 0 examples and 2 sightings to Bob", 5*time.Second)
	b.Screenshot("merge-confirmation")
	b.Do("confirm the merge", chromedp.Click(chromedp.CSS("button.danger")))
	b.WaitText("h1", "Bob", 15*time.Second)
	b.WaitText("main", "seen in 2 images", 5*time.Second)
	b.Screenshot("person")

	b.Do("ask to delete Bob", chromedp.Click(chromedp.CSS(`a[href$="/delete"]`)))
	b.WaitText("main", "Delete Bob?", 15*time.Second)
	b.WaitText("main", "erase their name from 2 images", 5*time.Second)
	b.Do("confirm the deletion", chromedp.Click(chromedp.CSS("button.danger")))
	b.WaitText(".flash.ok", "Bob and everything recorded about them were deleted.", 15*time.Second)
	b.WaitText("main", "Nobody is enrolled yet", 5*time.Second)
	b.Do("images page after the deletion", chromedp.Navigate(base+"/"))
	if s := b.Text("#images"); strings.Contains(s, "Bob") || strings.Contains(s, "Ann") {
		t.Fatalf("deleted people still named on the images page: %q", s)
	}
	b.NoPageErrors()
}

// TestBrowserFiltersPaginationAndLiveUpdate pages through images, filters them, and watches a
// card change when its image is processed, without reloading.
func TestBrowserFiltersPaginationAndLiveUpdate(t *testing.T) {
	u := newTestUI(t, Options{PageSize: 2}, Deps{})
	ann := u.person("Ann")
	u.seedImage("one.jpg", []seedFace{{person: ann, distance: 0.31, box: box(30, 20, 60, 70)}})
	u.seedImage("two.jpg", []seedFace{})
	u.seedImage("three.jpg", []seedFace{{box: box(50, 30, 50, 60)}})
	b := browser.New(t, 1280, 900)
	base := u.http.URL

	b.Do("open the images page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#images")))
	b.WaitText("#images", "three.jpg", 15*time.Second)
	b.Do("older images", chromedp.Click(chromedp.CSS(`a[rel="next"]`)), chromedp.WaitVisible(chromedp.CSS("#images")))
	b.WaitText("#images", "one.jpg", 15*time.Second)
	if s := b.Text("#images"); strings.Contains(s, "three.jpg") {
		t.Fatalf("second page repeats the first: %q", s)
	}
	b.Do("filter by Ann",
		chromedp.Navigate(base+"/"),
		chromedp.SetValue(chromedp.CSS("#f-person"), fmt.Sprint(ann)),
		chromedp.Submit(chromedp.CSS("#f-person")),
	)
	b.WaitText("#images", "Ann", 15*time.Second)
	if s := b.Text("#images"); strings.Contains(s, "two.jpg") || strings.Contains(s, "three.jpg") {
		t.Fatalf("Ann's filter shows other images: %q", s)
	}
	b.Do("filter by status",
		chromedp.Navigate(base+"/"),
		chromedp.SetValue(chromedp.CSS("#f-status"), "no_faces"),
		chromedp.Submit(chromedp.CSS("#f-status")),
	)
	b.WaitText("#images", "two.jpg", 15*time.Second)

	// Live: a new image arrives and is processed while the page stays open.
	b.Do("back to all images", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#images")))
	b.WaitText("#live-state", "Live updates on", 15*time.Second)
	id := u.seedImage("four.jpg", nil)
	b.WaitText(fmt.Sprintf(`[data-image-id="%d"]`, id), "queued", 30*time.Second)
	ctx := context.Background()
	if ok, err := u.st.ClaimImage(ctx, id, "p", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	d := make([]float32, store.DescriptorLen)
	if _, err := u.st.RecordOutcome(ctx, id, "p", store.Outcome{Width: 200, Height: 150,
		Faces: []store.Face{{Box: box(20, 20, 50, 60), Score: 0.95, Descriptor: d, PersonID: ann, Distance: 0.28}}}); err != nil {
		t.Fatal(err)
	}
	b.WaitText(fmt.Sprintf(`[data-image-id="%d"]`, id), "Ann", 30*time.Second)
	b.WaitText(fmt.Sprintf(`[data-image-id="%d"]`, id), "processed", 5*time.Second)
	b.Screenshot("images")
	b.Do("status page", chromedp.Navigate(base+"/status"), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	b.Screenshot("status")
	b.Do("people page", chromedp.Navigate(base+"/people"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	b.Screenshot("people")

	// Keyboard: the first Tab reaches the skip link.
	b.Do("tab to the skip link", chromedp.Navigate(base+"/people"), chromedp.KeyEvent(kb.Tab))
	focused := browser.Eval[string](b, `document.activeElement.textContent`)
	if focused != "Skip to content" {
		t.Fatalf("first Tab focuses %q, want the skip link", focused)
	}
	b.NoPageErrors()
}

// TestBrowserPhoneLayout loads each page at phone size and checks nothing overflows sideways.
func TestBrowserPhoneLayout(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	ann := u.person("Ann")
	id := u.seedImage("p.jpg", []seedFace{{person: ann, distance: 0.3, box: box(30, 20, 60, 70)}, {box: box(120, 30, 40, 50)}})
	// A background job half way, held back for live images, for the status page.
	ctx := context.Background()
	job, _ := u.st.CreateJob(ctx, "retry", nil)
	u.st.ClaimJob(ctx, store.JobClaim{Owner: "facecluster-reconciler-7d9f8b6c5-x2k4q:1:a1b2c3", Lease: time.Minute, Kinds: []string{"retry"}})
	u.st.CheckpointJob(ctx, job.ID, "facecluster-reconciler-7d9f8b6c5-x2k4q:1:a1b2c3", "2400", 2400, 10000, time.Minute)
	u.st.ExtendJobLease(ctx, job.ID, "facecluster-reconciler-7d9f8b6c5-x2k4q:1:a1b2c3", time.Minute, true)
	b := browser.New(t, 390, 844)
	for _, p := range []string{"/", fmt.Sprintf("/images/%d", id), "/upload", "/people", fmt.Sprintf("/people/%d", ann), "/unknown", "/status"} {
		b.Do("open "+p, chromedp.Navigate(u.http.URL+p), chromedp.WaitVisible(chromedp.CSS("main")))
		overflow := browser.Eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`)
		if overflow {
			b.Screenshot("overflow" + strings.ReplaceAll(p, "/", "-"))
			t.Errorf("%s is wider than a phone screen", p)
		}
	}
	b.Do("phone status page", chromedp.Navigate(u.http.URL+"/status"), chromedp.WaitVisible(chromedp.CSS("table.jobs")))
	b.Screenshot("status-jobs-phone")
	b.Do("phone image page", chromedp.Navigate(fmt.Sprintf("%s/images/%d", u.http.URL, id)), chromedp.WaitVisible(chromedp.CSS("main")))
	b.Screenshot("image-detail-phone")
	b.NoPageErrors()
}

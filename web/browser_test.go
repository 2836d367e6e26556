package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/facecluster/facecluster/store"
)

// TestBrowserPeopleLifecycle creates, renames, merges and deletes people through the pages in
// a real browser, reading the confirmations a person would read.
func TestBrowserPeopleLifecycle(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	b := newBrowser(t, 1280, 900)
	base := u.http.URL

	b.run("create Ann",
		chromedp.Navigate(base+"/people"),
		chromedp.SendKeys(chromedp.CSS("#new-name"), "Ann"),
		chromedp.Submit(chromedp.CSS("#new-name")),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	b.waitText(".flash.ok", "Ann was created.", 5*time.Second)
	b.run("rename Ann",
		chromedp.Clear(chromedp.CSS("#rename")),
		chromedp.SendKeys(chromedp.CSS("#rename"), "Ann Lee"),
		chromedp.Submit(chromedp.CSS("#rename")),
	)
	b.waitText("h1", "Ann Lee", 5*time.Second)

	bob := u.person("Bob")
	ann, err := u.st.PersonByName(context.Background(), "Ann Lee")
	if err != nil {
		t.Fatal(err)
	}
	u.seedImage("both.jpg", []seedFace{{person: ann.ID, distance: 0.3, box: box(10, 10, 40, 40)}, {person: bob, distance: 0.35, box: box(100, 10, 40, 40)}})
	u.seedImage("ann.jpg", []seedFace{{person: ann.ID, distance: 0.33, box: box(10, 10, 40, 40)}})

	b.run("merge Ann Lee into Bob",
		chromedp.Navigate(fmt.Sprintf("%s/people/%d", base, ann.ID)),
		chromedp.SetValue(chromedp.CSS("#merge-into"), fmt.Sprint(bob)),
		chromedp.Submit(chromedp.CSS("#merge-into")),
	)
	b.waitText("main", "Merge Ann Lee into Bob?", 5*time.Second)
	b.waitText("main", "move Ann Lee's 0 examples and 2 sightings to Bob", time.Second)
	b.screenshot("merge-confirmation")
	b.run("confirm the merge", chromedp.Click(chromedp.CSS("button.danger")))
	b.waitText("h1", "Bob", 5*time.Second)
	b.waitText("main", "seen in 2 images", time.Second)
	b.screenshot("person")

	b.run("ask to delete Bob", chromedp.Click(chromedp.CSS(`a[href$="/delete"]`)))
	b.waitText("main", "Delete Bob?", 5*time.Second)
	b.waitText("main", "erase their name from 2 images", time.Second)
	b.run("confirm the deletion", chromedp.Click(chromedp.CSS("button.danger")))
	b.waitText(".flash.ok", "Bob and everything recorded about them were deleted.", 5*time.Second)
	b.waitText("main", "Nobody is enrolled yet", time.Second)
	b.run("images page after the deletion", chromedp.Navigate(base+"/"))
	if s := b.text("#images"); strings.Contains(s, "Bob") || strings.Contains(s, "Ann") {
		t.Fatalf("deleted people still named on the images page: %q", s)
	}
	b.noPageErrors()
}

// TestBrowserFiltersPaginationAndLiveUpdate pages through images, filters them, and watches a
// card change when its image is processed, without reloading.
func TestBrowserFiltersPaginationAndLiveUpdate(t *testing.T) {
	u := newTestUI(t, Options{PageSize: 2}, Deps{})
	ann := u.person("Ann")
	u.seedImage("one.jpg", []seedFace{{person: ann, distance: 0.31, box: box(30, 20, 60, 70)}})
	u.seedImage("two.jpg", []seedFace{})
	u.seedImage("three.jpg", []seedFace{{box: box(50, 30, 50, 60)}})
	b := newBrowser(t, 1280, 900)
	base := u.http.URL

	b.run("open the images page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#images")))
	b.waitText("#images", "three.jpg", 5*time.Second)
	b.run("older images", chromedp.Click(chromedp.CSS(`a[rel="next"]`)), chromedp.WaitVisible(chromedp.CSS("#images")))
	b.waitText("#images", "one.jpg", 5*time.Second)
	if s := b.text("#images"); strings.Contains(s, "three.jpg") {
		t.Fatalf("second page repeats the first: %q", s)
	}
	b.run("filter by Ann",
		chromedp.Navigate(base+"/"),
		chromedp.SetValue(chromedp.CSS("#f-person"), fmt.Sprint(ann)),
		chromedp.Submit(chromedp.CSS("#f-person")),
	)
	b.waitText("#images", "Ann", 5*time.Second)
	if s := b.text("#images"); strings.Contains(s, "two.jpg") || strings.Contains(s, "three.jpg") {
		t.Fatalf("Ann's filter shows other images: %q", s)
	}
	b.run("filter by status",
		chromedp.Navigate(base+"/"),
		chromedp.SetValue(chromedp.CSS("#f-status"), "no_faces"),
		chromedp.Submit(chromedp.CSS("#f-status")),
	)
	b.waitText("#images", "two.jpg", 5*time.Second)

	// Live: a new image arrives and is processed while the page stays open.
	b.run("back to all images", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#images")))
	b.waitText("#live-state", "Live updates on", 5*time.Second)
	id := u.seedImage("four.jpg", nil)
	b.waitText(fmt.Sprintf(`[data-image-id="%d"]`, id), "queued", 10*time.Second)
	ctx := context.Background()
	if ok, err := u.st.ClaimImage(ctx, id, "p", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	d := make([]float32, store.DescriptorLen)
	if err := u.st.RecordOutcome(ctx, id, "p", store.Outcome{Width: 200, Height: 150,
		Faces: []store.Face{{Box: box(20, 20, 50, 60), Score: 0.95, Descriptor: d, PersonID: ann, Distance: 0.28}}}); err != nil {
		t.Fatal(err)
	}
	b.waitText(fmt.Sprintf(`[data-image-id="%d"]`, id), "Ann", 10*time.Second)
	b.waitText(fmt.Sprintf(`[data-image-id="%d"]`, id), "processed", time.Second)
	b.screenshot("images")

	// Keyboard: the first Tab reaches the skip link.
	b.run("tab to the skip link", chromedp.Navigate(base+"/people"), chromedp.KeyEvent(kb.Tab))
	focused := eval[string](b, `document.activeElement.textContent`)
	if focused != "Skip to content" {
		t.Fatalf("first Tab focuses %q, want the skip link", focused)
	}
	b.noPageErrors()
}

// TestBrowserPhoneLayout loads each page at phone size and checks nothing overflows sideways.
func TestBrowserPhoneLayout(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	ann := u.person("Ann")
	id := u.seedImage("p.jpg", []seedFace{{person: ann, distance: 0.3, box: box(30, 20, 60, 70)}, {box: box(120, 30, 40, 50)}})
	b := newBrowser(t, 390, 844)
	for _, p := range []string{"/", fmt.Sprintf("/images/%d", id), "/upload", "/people", fmt.Sprintf("/people/%d", ann), "/unknown", "/status"} {
		b.run("open "+p, chromedp.Navigate(u.http.URL+p), chromedp.WaitVisible(chromedp.CSS("main")))
		overflow := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`)
		if overflow {
			b.screenshot("overflow" + strings.ReplaceAll(p, "/", "-"))
			t.Errorf("%s is wider than a phone screen", p)
		}
	}
	b.run("phone image page", chromedp.Navigate(fmt.Sprintf("%s/images/%d", u.http.URL, id)), chromedp.WaitVisible(chromedp.CSS("main")))
	b.screenshot("image-detail-phone")
	b.noPageErrors()
}

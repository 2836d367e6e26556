package web

import (
	"bufio"
	"context"
	"fmt"
	"image/jpeg"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/auth"
	"github.com/facecluster/facecluster/store"
)

func TestImagesPage(t *testing.T) {
	u := newTestUI(t, Options{PageSize: 2}, Deps{})
	empty := u.get("/")
	if empty.code != http.StatusOK {
		t.Fatalf("empty images page: %d", empty.code)
	}
	mustContain(t, empty, "No images yet", `href="/upload"`)

	ann := u.person("Ann")
	first := u.seedImage("door-1.jpg", []seedFace{{person: ann, distance: 0.31, box: box(10, 20, 40, 50)}, {box: box(100, 20, 30, 40)}})
	u.seedImage("door-2.jpg", []seedFace{})
	pending := u.seedImage("door-3.jpg", nil)

	page1 := u.get("/")
	mustContain(t, page1, "door-3.jpg", "door-2.jpg", "queued", "no faces", "Older images")
	mustNotContain(t, page1, "door-1.jpg", "No images yet")
	if !strings.Contains(page1.body, fmt.Sprintf(`data-image-id="%d"`, pending)) {
		t.Fatal("card of the newest image lacks its id for live updates")
	}
	next := regexpFind(t, page1.body, `href="(/\?cursor=[^"]+)" rel="next"`)
	page2 := u.get(strings.ReplaceAll(next, "&amp;", "&"))
	mustContain(t, page2, "door-1.jpg", fmt.Sprintf(`href="/people/%d">Ann</a>`, ann), "distance 0.31", `<rect x="10" y="20" width="40" height="50"`,
		`class="unknown"`, "Newest")
	mustNotContain(t, page2, "door-3.jpg", "Older images")

	byPerson := u.get(fmt.Sprintf("/?person=%d", ann))
	mustContain(t, byPerson, "door-1.jpg", "Clear filters")
	mustNotContain(t, byPerson, "door-2.jpg", "door-3.jpg")
	byStatus := u.get("/?status=no_faces")
	mustContain(t, byStatus, "door-2.jpg")
	mustNotContain(t, byStatus, "door-1.jpg", "door-3.jpg")
	future := u.get("/?from=" + time.Now().Add(time.Hour).UTC().Format(inputTime))
	mustContain(t, future, "No images match these filters")
	_ = first
}

func TestImagesPageBadInput(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	u.seedImage("a.jpg", nil)
	tests := []struct{ query, want string }{
		{"status=lost", `&#34;lost&#34; is not a status`},
		{"person=abc", "The person filter is not a valid person."},
		{"from=yesterday", "is not a date and time like"},
		{"from=2026-01-02T00:00&to=2026-01-01T00:00", "The time range ends before it starts."},
		{"cursor=%21%21garbage", "That page link is broken or too old."},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := u.get("/?" + tt.query)
			if r.code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.code)
			}
			mustContain(t, r, tt.want, `role="alert"`)
			mustNotContain(t, r, "store:", "a.jpg")
		})
	}
}

func regexpFind(t *testing.T, body, expr string) string {
	t.Helper()
	m := mustCompile(expr).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has nothing matching %s:\n%s", expr, body)
	}
	return m[1]
}

func TestStoreDownGivesActionableError(t *testing.T) {
	st := openStore(t)
	u := newTestUI(t, Options{}, Deps{Store: st})
	st.Close()
	for _, path := range []string{"/", "/people", "/people/1", "/images/1", "/unknown", "/status"} {
		r := u.get(path)
		if r.code != http.StatusInternalServerError {
			t.Fatalf("%s with the database gone: status %d, want 500", path, r.code)
		}
		mustContain(t, r, "the database could not be reached", "Try again in a moment")
		mustNotContain(t, r, "sql:", "store:", "goroutine")
	}
}

func TestImageDetailAndCorrections(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	ann, bob := u.person("Ann"), u.person("Bob")
	id := u.seedImage("hall.jpg", []seedFace{{person: ann, distance: 0.42, box: box(10, 20, 40, 50)}, {box: box(100, 20, 30, 40)}})
	r := u.get(fmt.Sprintf("/images/%d", id))
	mustContain(t, r, "Image", "processed", "Faces (2)", ">Ann</text>", ">unknown</text>", "distance 0.42", "This is not Ann",
		"New person from this face", fmt.Sprintf(`src="/images/%d/file"`, id))
	faces := imageFaces(t, u, id)

	// "This is Bob" on the unknown face, also as an example.
	after := u.follow(fmt.Sprintf("/faces/%d/assign", faces[1].ID), url.Values{"person": {fmt.Sprint(bob)}, "enrol": {"1"}})
	mustContain(t, after, "The face is now Bob and teaches the recognizers")
	bobP, _ := u.st.GetPerson(context.Background(), bob)
	if bobP.Examples != 1 || bobP.Images != 1 {
		t.Fatalf("Bob has %d examples in %d images after naming a face, want 1 and 1", bobP.Examples, bobP.Images)
	}
	// "This is not Ann".
	after = u.follow(fmt.Sprintf("/faces/%d/unassign", faces[0].ID), nil)
	mustContain(t, after, "The face is no longer Ann.")
	if f := imageFaces(t, u, id); f[0].PersonID != 0 {
		t.Fatalf("face still assigned to person %d", f[0].PersonID)
	}
	// "New person from this face".
	after = u.follow(fmt.Sprintf("/faces/%d/new-person", faces[0].ID), url.Values{"name": {"Cleo"}})
	mustContain(t, after, "Cleo was created from this face", ">Cleo</a>")
	// Naming a new person with a name that is taken tells what to do instead.
	after = u.follow(fmt.Sprintf("/faces/%d/new-person", faces[0].ID), url.Values{"name": {"Bob"}})
	mustContain(t, after, "The person was not created", "already exists", "use “This is”")
	// Choosing nobody.
	after = u.follow(fmt.Sprintf("/faces/%d/assign", faces[0].ID), url.Values{"person": {""}})
	mustContain(t, after, "Choose who this is.")

	// Re-run.
	after = u.follow(fmt.Sprintf("/images/%d/retry", id), nil)
	mustContain(t, after, "queued to be recognised again", "queued")

	missing := u.get("/images/999999")
	if missing.code != http.StatusNotFound {
		t.Fatalf("missing image: status %d", missing.code)
	}
	mustContain(t, missing, "it does not exist (it may have been deleted)")
	if r := u.get("/images/abc"); r.code != http.StatusNotFound {
		t.Fatalf("non-numeric image id: status %d", r.code)
	}
	if r := u.post("/faces/424242/assign", url.Values{"person": {fmt.Sprint(bob)}}); r.code != http.StatusNotFound {
		t.Fatalf("assigning a missing face: status %d", r.code)
	}
}

func imageFaces(t *testing.T, u *testUI, id int64) []store.Face {
	t.Helper()
	img, err := u.st.GetImage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return img.Faces
}

func TestPicturesAndThumbnails(t *testing.T) {
	u := newTestUI(t, Options{ThumbSize: 100}, Deps{})
	id := u.seedImage("cam.jpg", []seedFace{{box: box(50, 40, 60, 60)}})
	res, err := u.client.Get(fmt.Sprintf("%s/thumbs/%d.jpg", u.http.URL, id))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(res.Body)
	res.Body.Close()
	if err != nil || cfg.Width != 100 || cfg.Height != 75 {
		t.Fatalf("thumbnail %dx%d (%v), want 100x75", cfg.Width, cfg.Height, err)
	}
	full := u.get(fmt.Sprintf("/images/%d/file", id))
	if full.code != http.StatusOK || full.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("full picture: %d %s", full.code, full.header.Get("Content-Type"))
	}
	faces := imageFaces(t, u, id)
	crop := u.get(fmt.Sprintf("/faces/%d/crop.jpg", faces[0].ID))
	if crop.code != http.StatusOK {
		t.Fatalf("face crop: %d %s", crop.code, crop.body)
	}
	// A picture that disappeared from disk, and an image that does not exist: 404, no details.
	gone := u.seedImage("gone.jpg", nil)
	img, _ := u.st.GetImage(context.Background(), gone)
	if err := removeFile(img.Source); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fmt.Sprintf("/thumbs/%d.jpg", gone), fmt.Sprintf("/images/%d/file", gone), "/thumbs/999.jpg", "/thumbs/x.jpg", "/faces/999/crop.jpg"} {
		r := u.get(p)
		if r.code != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", p, r.code)
		}
		mustNotContain(t, r, u.dir)
	}
}

func TestPeoplePages(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	mustContain(t, u.get("/people"), "Nobody is enrolled yet")

	after := u.follow("/people", url.Values{"name": {"Ann"}})
	mustContain(t, after, "Ann was created.", "No examples yet", "has not been seen in any image yet")
	ann, err := u.st.PersonByName(context.Background(), "Ann")
	if err != nil {
		t.Fatal(err)
	}
	dup := u.follow("/people", url.Values{"name": {"Ann"}})
	mustContain(t, dup, "The person was not created", "already exists")
	empty := u.follow("/people", url.Values{"name": {"   "}})
	mustContain(t, empty, "The person was not created", "empty person name")

	bob := u.person("Bob")
	u.seedImage("mon.jpg", []seedFace{{person: ann.ID, distance: 0.3, box: box(1, 1, 20, 20)}, {person: bob, distance: 0.4, box: box(60, 1, 20, 20)}})
	u.seedImage("tue.jpg", []seedFace{{person: bob, distance: 0.5, box: box(1, 1, 20, 20)}})
	list := u.get("/people")
	mustContain(t, list, ">Ann</a>", ">Bob</a>", "just now")

	// Rename.
	after = u.follow(fmt.Sprintf("/people/%d/rename", ann.ID), url.Values{"name": {"Ann Lee"}})
	mustContain(t, after, "Renamed.", "<h1>Ann Lee</h1>")
	after = u.follow(fmt.Sprintf("/people/%d/rename", ann.ID), url.Values{"name": {"Bob"}})
	mustContain(t, after, "The name was not changed", "already exists")

	// History timeline.
	bobPage := u.get(fmt.Sprintf("/people/%d", bob))
	mustContain(t, bobPage, "seen in 2 images", `class="timeline"`, time.Now().UTC().Format("Monday 2 January 2006"), "2 images", "lobby", "distance 0.50")

	// Merge Ann Lee into Bob: confirmation says what happens, then it happens.
	confirm := u.get(fmt.Sprintf("/people/%d/merge?into=%d", ann.ID, bob))
	mustContain(t, confirm, "Merge Ann Lee into Bob?", "move Ann Lee&#39;s 0 examples and 1 sighting to Bob", "make Ann Lee&#39;s face unknown", "cannot be undone")
	after = u.follow(fmt.Sprintf("/people/%d/merge", ann.ID), url.Values{"into": {fmt.Sprint(bob)}})
	mustContain(t, after, "Merged.", "<h1>Bob</h1>")
	if r := u.get(fmt.Sprintf("/people/%d", ann.ID)); r.code != http.StatusNotFound {
		t.Fatalf("merged-away person still has a page (%d)", r.code)
	}

	// Delete Bob: the confirmation names what will be erased; afterwards nothing of Bob is left.
	confirm = u.get(fmt.Sprintf("/people/%d/delete", bob))
	mustContain(t, confirm, "Delete Bob?", "erase Bob&#39;s 0 enrolment examples", "erase their name from 2 images", "keep the images themselves")
	after = u.follow(fmt.Sprintf("/people/%d/delete", bob), nil)
	mustContain(t, after, "Bob and everything recorded about them were deleted.")
	mustNotContain(t, after, ">Bob</a>")
	images := u.get("/")
	mustNotContain(t, images, ">Bob</a>")
	if r := u.get(fmt.Sprintf("/people/%d", bob)); r.code != http.StatusNotFound {
		t.Fatalf("deleted person still has a page (%d)", r.code)
	}
	if r := u.get("/people/999/delete"); r.code != http.StatusNotFound {
		t.Fatalf("deleting a missing person: %d", r.code)
	}
}

func TestExamplesOnPersonPage(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	ann := u.person("Ann")
	id := u.seedImage("x.jpg", []seedFace{{box: box(1, 1, 30, 30)}})
	f := imageFaces(t, u, id)[0]
	u.follow(fmt.Sprintf("/faces/%d/assign", f.ID), url.Values{"person": {fmt.Sprint(ann)}, "enrol": {"1"}})
	p := u.get(fmt.Sprintf("/people/%d", ann))
	mustContain(t, p, "1 example", fmt.Sprintf(`href="/images/%d#face-%d"`, id, f.ID), "Remove example")
	mustNotContain(t, p, "No examples yet", "Add photos of Ann", "older model") // no receiver: no upload form
	ex, err := u.st.ListExamples(context.Background(), ann)
	if err != nil || len(ex) != 1 {
		t.Fatalf("examples %v %v", ex, err)
	}
	// Examples an older model computed: one to re-embed from its kept original, one whose photo
	// was not kept and must be enrolled again.
	bob := u.person("Bob")
	for _, ne := range []store.NewExample{
		{PersonID: bob, Descriptor: ex[0].Descriptor, Model: "an-older-model", Source: "/known/bob.jpg", Original: "/known/bob.jpg"},
		{PersonID: bob, Descriptor: ex[0].Descriptor, Model: "an-older-model", Source: "upload:bob2.jpg"},
	} {
		if _, err := u.st.AddExample(context.Background(), ne); err != nil {
			t.Fatal(err)
		}
	}
	mustContain(t, u.get(fmt.Sprintf("/people/%d", bob)), "Enrolled with an older model: add this photo again",
		"Enrolled with an older model: not used for recognition until <code>facecluster reembed</code>")
	after := u.follow(fmt.Sprintf("/examples/%d/delete", ex[0].ID), url.Values{"back": {fmt.Sprintf("/people/%d", ann)}})
	mustContain(t, after, "Example removed.", "No examples yet")
	if r := u.post("/examples/999/delete", nil); r.code != http.StatusNotFound {
		t.Fatalf("removing a missing example: %d", r.code)
	}
}

func TestUnknownFacesPage(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	mustContain(t, u.get("/unknown"), "No unknown faces")
	ann := u.person("Ann")
	id := u.seedImage("u.jpg", []seedFace{{box: box(1, 1, 30, 30)}, {person: ann, box: box(50, 1, 30, 30)}})
	faces := imageFaces(t, u, id)
	r := u.get("/unknown")
	mustContain(t, r, fmt.Sprintf(`src="/faces/%d/crop.jpg"`, faces[0].ID), "Add to person", "Or name a new person")
	mustNotContain(t, r, fmt.Sprintf(`id="face-%d"`, faces[1].ID))
	cleo := u.person("Cleo")
	after := u.follow(fmt.Sprintf("/faces/%d/assign", faces[0].ID), url.Values{"person": {fmt.Sprint(cleo)}, "enrol": {"1"}, "back": {"/unknown"}})
	mustContain(t, after, "The face is now Cleo", "No unknown faces")
	if r := u.get("/unknown?before=x"); r.code != http.StatusBadRequest {
		t.Fatalf("bad page link: %d", r.code)
	}
}

func TestStatusPage(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	empty := u.get("/status")
	mustContain(t, empty, "Images by status", "no data yet", "No failures.", "Role health is reported by the serve command", "No background jobs.")
	u.seedImage("ok.jpg", []seedFace{})
	id := u.seedImage("bad.jpg", nil)
	ctx := context.Background()
	if ok, err := u.st.ClaimImage(ctx, id, "t", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := u.st.RecordFailure(ctx, id, "t", "the picture is corrupt", true, 3); err != nil {
		t.Fatal(err)
	}
	r := u.get("/status")
	mustContain(t, r, `<rect class="bar"`, "the picture is corrupt", fmt.Sprintf(`href="/images/%d"`, id), `href="/?status=failed"`)

	// Background jobs: one held back for live images half way, one that failed, one queued.
	running, _ := u.st.CreateJob(ctx, "retry", nil)
	failed, _ := u.st.CreateJob(ctx, "retry", nil)
	u.st.CreateJob(ctx, "retry", nil)
	for _, j := range []store.Job{running, failed} {
		if _, ok, err := u.st.ClaimJob(ctx, store.JobClaim{Owner: "replica-7", Lease: time.Minute, Kinds: []string{"retry"}, ID: j.ID}); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	u.st.CheckpointJob(ctx, running.ID, "replica-7", "120", 120, 480, time.Minute)
	u.st.ExtendJobLease(ctx, running.ID, "replica-7", time.Minute, true)
	u.st.FinishJob(ctx, failed.ID, "replica-7", store.JobFailed, "nsqd unreachable")
	r = u.get("/status")
	mustContain(t, r, "Background jobs", `<progress value="120" max="480"`, "120 / 480", `class="status job-running">held back<`, "Held back for live images for",
		`class="status job-failed">failed<`, "nsqd unreachable", "Waiting for a runner")
	mustNotContain(t, r, "No background jobs.", "older model")

	// After an upgrade: a person whose only example is of an older model is named.
	dora := u.person("Dora")
	if _, err := u.st.AddExample(ctx, store.NewExample{PersonID: dora, Descriptor: make([]float32, store.DescriptorLen), Model: "an-older-model", Source: "upload:dora.jpg"}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, u.get("/status"), "Enrolment examples of an older model", "1 example was computed by an older model",
		"1 has no original photo kept and must be enrolled again", fmt.Sprintf(`<a href="/people/%d">Dora</a>`, dora))

	withSource := newTestUI(t, Options{}, Deps{Store: u.st, Status: statusFunc(func(context.Context) (StatusReport, error) {
		return StatusReport{QueueDepth: 17, QueueKnown: true, Breaker: "open", Roles: []RoleHealth{{Name: "recognizer", Healthy: false, Detail: "connection refused"}},
			ProcessingP50: 120 * time.Millisecond, ProcessingP95: 480 * time.Millisecond, ProcessingKnown: true}, nil
	})})
	mustContain(t, withSource.get("/status"), ">17<", ">open<", "recognizer", "unhealthy", "connection refused", ">120ms / 480ms<")

	// Retry all failed from the images page.
	images := u.get("/")
	mustContain(t, images, "1 failed image.", "Retry all failed")
	after := u.follow("/images/retry-failed", nil)
	mustContain(t, after, "1 failed image queued again.")
	mustNotContain(t, after, "Retry all failed")
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

type statusFunc func(context.Context) (StatusReport, error)

func (f statusFunc) Status(ctx context.Context) (StatusReport, error) { return f(ctx) }

func TestUploadPageWithoutReceiver(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	mustContain(t, u.get("/upload"), "Uploading is not available")
	r := u.post("/upload/sources", url.Values{"sources": {"/x.jpg"}})
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("paths without a receiver: %d", r.code)
	}
}

func TestSecurity(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	u.person(`<script>alert("x")</script>`)
	for _, p := range []string{"/", "/people", "/upload", "/unknown", "/status", "/people/1", "/images/77", "/static/app.css"} {
		r := u.get(p)
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Fatalf("%s: Content-Security-Policy %q", p, csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: no nosniff", p)
		}
		if strings.Contains(r.body, "<script>") || strings.Contains(r.body, "onclick=") || strings.Contains(r.body, "style=") {
			t.Fatalf("%s: inline script or style in the page:\n%s", p, r.body)
		}
	}
	mustContain(t, u.get("/people"), "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")

	// A form without the token, with a wrong one, and a cross-site request are refused and change nothing.
	token := u.token()
	for name, req := range map[string]func() *http.Request{
		"no token": func() *http.Request {
			r, _ := http.NewRequest("POST", u.http.URL+"/people", strings.NewReader("name=Eve"))
			return r
		},
		"wrong token": func() *http.Request {
			r, _ := http.NewRequest("POST", u.http.URL+"/people", strings.NewReader("name=Eve&csrf_token=forged"))
			return r
		},
		"cross-site with token": func() *http.Request {
			r, _ := http.NewRequest("POST", u.http.URL+"/people", strings.NewReader("name=Eve&csrf_token="+url.QueryEscape(token)))
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return r
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := req()
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := u.client.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			got := read(t, res)
			if got.code != http.StatusForbidden {
				t.Fatalf("status %d, want 403", got.code)
			}
			mustContain(t, got, "This form has expired or was sent from another site.")
			if _, err := u.st.PersonByName(context.Background(), "Eve"); err == nil {
				t.Fatal("refused request created a person")
			}
		})
	}
	// The real token in a header works for scripts.
	r, _ := http.NewRequest("POST", u.http.URL+"/people", strings.NewReader("name=Eve"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set(csrfHeader, token)
	res, err := u.client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, res); got.code != http.StatusSeeOther {
		t.Fatalf("request with the header token: %d %s", got.code, got.body)
	}
}

func TestLogin(t *testing.T) {
	u := newTestUI(t, Options{AccessTokens: []string{"s3cret-token"}}, Deps{})
	r := u.get("/people")
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?next=%2Fpeople") {
		t.Fatalf("signed-out page: %d → %q", r.code, r.header.Get("Location"))
	}
	login := u.get("/login?next=%2Fpeople")
	mustContain(t, login, "Sign in", `type="password"`)
	tok := regexpFind(t, login.body, `name="csrf-token" content="([^"]+)"`)
	bad := u.post("/login", url.Values{"token": {"guess"}, "next": {"/people"}, csrfField: {tok}})
	if bad.code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", bad.code)
	}
	mustContain(t, bad, "That token is not valid.")
	ok := u.post("/login", url.Values{"token": {"s3cret-token"}, "next": {"/people"}, csrfField: {tok}})
	if ok.code != http.StatusSeeOther || ok.header.Get("Location") != "/people" {
		t.Fatalf("sign-in: %d → %q", ok.code, ok.header.Get("Location"))
	}
	mustContain(t, u.get("/people"), "Nobody is enrolled yet", "Sign out")
	// The session is the API's too (internal/auth): scripts signed in to the UI may call it.
	if !slices.ContainsFunc(u.client.Jar.Cookies(mustURL(t, u.http.URL)), func(c *http.Cookie) bool { return c.Name == auth.CookieName }) {
		t.Fatalf("no %s cookie after signing in", auth.CookieName)
	}
	// An open redirect through next= is refused.
	ok = u.post("/login", url.Values{"token": {"s3cret-token"}, "next": {"//evil.example/"}, csrfField: {tok}})
	if ok.header.Get("Location") != "/" {
		t.Fatalf("next=//evil.example/ redirected to %q", ok.header.Get("Location"))
	}
	u.follow("/logout", nil)
	if r := u.get("/status"); r.code != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d", r.code)
	}
}

func TestLiveUpdatesOverServerSentEvents(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	ann := u.person("Ann")
	id := u.seedImage("live.jpg", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u.http.URL+"/events", nil)
	res, err := u.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		if ok, err := u.st.ClaimImage(context.Background(), id, "p", time.Minute); !ok || err != nil {
			t.Error(ok, err)
			return
		}
		d := make([]float32, store.DescriptorLen)
		if _, err := u.st.RecordOutcome(context.Background(), id, "p", store.Outcome{Faces: []store.Face{{Box: box(1, 1, 9, 9), Score: 0.9, Descriptor: d, PersonID: ann, Distance: 0.2}}}); err != nil {
			t.Error(err)
		}
	}()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"status":"processed"`) {
			if !strings.Contains(line, fmt.Sprintf(`"id":%d`, id)) || !strings.Contains(line, `"name":"Ann"`) {
				t.Fatalf("event %s lacks the image or the person", line)
			}
			card := u.get(fmt.Sprintf("/images/%d/card", id))
			mustContain(t, card, ">Ann</a>", "processed")
			mustNotContain(t, card, "<html")
			return
		}
	}
	t.Fatalf("no processed event before the stream ended: %v", sc.Err())
}

func TestCloseEndsEventStreams(t *testing.T) {
	u := newTestUI(t, Options{}, Deps{})
	res, err := u.client.Get(u.http.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _, _ = bufio.NewReader(res.Body).ReadString(0); close(done) }()
	u.srv.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("event stream still open 5s after Close")
	}
	res.Body.Close()
}

func TestServerShutdownEndsEventStreams(t *testing.T) {
	srv, err := New(Options{CacheDir: t.TempDir()}, Deps{Store: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	res, err := http.Get("http://" + ln.Addr().String() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open event stream: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown waited %v for the event stream", d)
	}
}

func TestOversizeFormIsRefusedBeforeItIsRead(t *testing.T) {
	u := newTestUI(t, Options{MaxUploadBytes: 1 << 10}, Deps{}) // forms up to 200 × 1 KiB + 1 MiB
	big := strings.Repeat("x", 2<<20)
	r := u.post("/people", url.Values{"name": {big}})
	if r.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("3 MB form: status %d, want 413", r.code)
	}
	mustContain(t, r, "more than the server takes in one go")
}

// facecluster UI behaviour: live updates over server-sent events, uploads with per-file
// progress, and the CSRF token on every request made from script. Loaded with `defer`; the pages
// work without it (plain forms), this only makes them live.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  // Replace a card with its freshly rendered version from the server.
  async function refreshCard(el) {
    const id = el.dataset.imageId;
    const res = await fetch("/images/" + id + "/card", { headers: { "Accept": "text/html" } });
    if (!res.ok) return;
    const tpl = document.createElement("template");
    tpl.innerHTML = (await res.text()).trim();
    const fresh = tpl.content.firstElementChild;
    if (fresh) el.replaceWith(fresh);
  }

  function describePeople(people) {
    if (!people || people.length === 0) return "";
    return people.map(function (p) { return p.name; }).join(", ");
  }

  let prepended = 0;
  const maxPrepend = 48;

  // Apply one image event to everything on the page that shows that image.
  function applyImageEvent(ev) {
    document.querySelectorAll('[data-image-id="' + ev.id + '"]').forEach(function (el) {
      if (el.hasAttribute("data-refresh")) { refreshCard(el); return; }
      const st = el.querySelector("[data-field=status]");
      if (st) { st.textContent = ev.status_label; st.className = "status " + ev.status; }
      const ppl = el.querySelector("[data-field=people]");
      if (ppl) ppl.textContent = describePeople(ev.people) || (ev.reason ? ev.reason : "");
    });
    const grid = document.querySelector("[data-live-prepend]");
    if (grid && ev.created && !document.querySelector('[data-image-id="' + ev.id + '"]')) {
      // A bulk submit must not make the page fetch thousands of cards: after a page's worth,
      // say that there are more.
      if (prepended >= maxPrepend) {
        const live = document.getElementById("live-state");
        if (live) live.textContent = "More new images have arrived: reload the page to see them.";
        return;
      }
      prepended++;
      const li = document.createElement("li");
      li.dataset.imageId = ev.id;
      li.setAttribute("data-refresh", "");
      grid.prepend(li);
      refreshCard(li);
    }
  }

  if (document.body.hasAttribute("data-live") && window.EventSource) {
    const es = new EventSource("/events");
    es.addEventListener("image", function (e) {
      try { applyImageEvent(JSON.parse(e.data)); } catch (err) { /* ignore a malformed event */ }
    });
    const live = document.getElementById("live-state");
    es.onopen = function () { if (live) live.textContent = "Live updates on"; };
    es.onerror = function () { if (live) live.textContent = "Live updates reconnecting…"; };
  }

  // Uploads: every chosen or dropped file is sent on its own request so each shows its progress.
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("files");
  const list = document.getElementById("upload-list");
  function uploadOne(file) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", "Upload progress of " + file.name);
    const state = document.createElement("span");
    state.setAttribute("data-field", "status");
    state.textContent = "uploading";
    const people = document.createElement("span");
    people.setAttribute("data-field", "people");
    people.className = "muted";
    name.append(" ", people);
    li.append(name, bar, state);
    list.prepend(li);
    const body = new FormData();
    body.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/upload/file");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
    xhr.onload = function () {
      let res = {};
      try { res = JSON.parse(xhr.responseText); } catch (err) { res = { error: "the server answered unexpectedly (" + xhr.status + ")" }; }
      if (xhr.status >= 200 && xhr.status < 300 && res.id) {
        bar.value = 100;
        li.dataset.imageId = res.id;
        const a = document.createElement("a");
        a.href = "/images/" + res.id;
        a.textContent = file.name;
        name.firstChild.replaceWith(a);
        state.textContent = res.status_label || "queued";
        state.className = "status " + (res.status || "pending");
      } else {
        state.textContent = res.error || ("upload failed (" + xhr.status + ")");
        state.className = "status failed";
        li.setAttribute("role", "alert");
      }
    };
    xhr.onerror = function () { state.textContent = "network error: the file was not sent"; state.className = "status failed"; };
    xhr.send(body);
  }
  function uploadAll(files) { Array.prototype.forEach.call(files, uploadOne); }
  if (zone && input && list) {
    const form = zone.closest("form");
    form.addEventListener("submit", function (e) { e.preventDefault(); uploadAll(input.files); input.value = ""; });
    input.addEventListener("change", function () { uploadAll(input.files); input.value = ""; });
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) { if (e.dataTransfer) uploadAll(e.dataTransfer.files); });
  }
})();

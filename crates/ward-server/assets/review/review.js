// ward review page: the queue, one case at a time, decisions, banks, wellness settings.
//
// No framework and nothing loaded from elsewhere (the page's Content-Security-Policy allows
// this origin only). Everything from the API is put into the page as text (textContent),
// never as HTML. Media are fetched with the token and shown through blob: URLs, blurred and
// greyscale until the reviewer reveals them.
"use strict";

(function () {
  const TOKEN_KEY = "ward.review.token";
  const $ = (id) => document.getElementById(id);

  const state = {
    token: null,
    settings: null, // {defaults, mine, effective}
    queue: [],
    index: -1,
    current: null, // the case shown
    revealed: false,
    urls: [], // object URLs to revoke on the next case
    busy: false,
    seq: 0, // guards against a slow answer for a case no longer shown
  };

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // ---- talking to the API ------------------------------------------------------------

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + state.token };
    const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new HttpError(0, "Cannot reach the ward server (" + e.message + ").");
    }
    if (resp.ok) return resp;
    let message = resp.statusText;
    try {
      const j = await resp.json();
      message = j.error || j.message || message;
    } catch (_) {
      // not JSON: keep the status text
    }
    if (resp.status === 401) {
      logout("Your token was not accepted (unknown, revoked or mistyped): log in again.");
    }
    throw new HttpError(resp.status, message);
  }

  async function getJson(path) {
    return (await api("GET", path)).json();
  }

  function report(err, context) {
    if (!(err instanceof HttpError)) {
      showError((context ? context + ": " : "") + String(err && err.message ? err.message : err));
      return;
    }
    if (err.status === 401) return; // already back at the login form, with its message
    let msg;
    if (err.status === 403) {
      msg = "Your token's role may not do this: the review page needs a reviewer or admin token. (" + err.message + ")";
    } else if (err.status === 409) {
      msg = "Already decided by someone else: " + err.message;
    } else if (err.status === 404) {
      msg = "Not found: " + err.message;
    } else if (err.status === 0) {
      msg = err.message;
    } else {
      msg = "The server answered " + err.status + ": " + err.message;
    }
    showError((context ? context + ": " : "") + msg);
  }

  function showError(text) {
    const box = $("error");
    box.textContent = text;
    box.hidden = false;
  }

  function clearError() {
    $("error").hidden = true;
    $("error").textContent = "";
  }

  function say(text) {
    $("status").textContent = text;
  }

  // ---- small formatting helpers ------------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function when(v) {
    if (v === null || v === undefined || v === "") return "";
    const d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
    if (isNaN(d.getTime())) return String(v);
    return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }

  function secs(t) {
    if (typeof t !== "number" || !isFinite(t)) return "?";
    const m = Math.floor(t / 60);
    const s = t - m * 60;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }

  function list(xs) {
    return Array.isArray(xs) && xs.length ? xs.join(", ") : "—";
  }

  function labels(xs) {
    const span = el("span");
    if (!Array.isArray(xs) || xs.length === 0) {
      span.textContent = "—";
      return span;
    }
    for (const l of xs) span.append(el("span", { class: "label", text: l }));
    return span;
  }

  // ---- login -------------------------------------------------------------------------

  async function login(token) {
    state.token = token;
    clearError();
    say("Checking the token…");
    try {
      state.settings = await getJson("/v1/me/settings");
    } catch (e) {
      state.token = null;
      if (e instanceof HttpError && e.status === 401) {
        showError("That token was not accepted (unknown, revoked or mistyped).");
      } else {
        report(e, "Log in");
      }
      say("");
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login").hidden = true;
    $("nav").hidden = false;
    applySettings();
    show("queue");
    say("Logged in.");
    loadBanks();
    await loadQueue();
  }

  function logout(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.queue = [];
    state.index = -1;
    state.current = null;
    dropMedia();
    $("queue-list").replaceChildren();
    $("case-body").hidden = true;
    for (const v of document.querySelectorAll(".view")) v.hidden = true;
    $("nav").hidden = true;
    $("login").hidden = false;
    $("token").value = "";
    say(message ? "" : "Logged out.");
    if (message) showError(message);
    else clearError();
    $("token").focus();
  }

  // ---- views -------------------------------------------------------------------------

  function show(view) {
    for (const b of document.querySelectorAll("#nav [data-view]")) {
      if (b.dataset.view === view) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    $("queue-view").hidden = view !== "queue";
    $("banks-view").hidden = view !== "banks";
    $("settings-view").hidden = view !== "settings";
    if (view === "banks") loadBanks();
    if (view === "settings") fillSettings();
  }

  function currentView() {
    if (!state.token) return "login";
    if (!$("queue-view").hidden) return "queue";
    if (!$("banks-view").hidden) return "banks";
    return "settings";
  }

  // ---- the queue ---------------------------------------------------------------------

  async function loadQueue(afterDecisionOf) {
    const params = new URLSearchParams();
    const status = $("f-status").value;
    const bank = $("f-bank").value;
    if (status) params.set("status", status);
    if (bank) params.set("bank", bank);
    params.set("limit", "200");
    let data;
    try {
      data = await getJson("/v1/cases?" + params.toString());
    } catch (e) {
      report(e, "Loading the queue");
      return;
    }
    const previous = state.index;
    const shownId = state.current ? state.current.id : null;
    state.queue = Array.isArray(data.cases) ? data.cases : [];
    renderQueue();
    let next = 0;
    if (afterDecisionOf !== undefined) {
      const at = state.queue.findIndex((c) => c.id === afterDecisionOf);
      // Still listed (escalated): move past it. Gone: the next one now sits where it was.
      next = at >= 0 ? at + 1 : previous;
    } else if (shownId !== null) {
      const at = state.queue.findIndex((c) => c.id === shownId);
      next = at >= 0 ? at : Math.max(previous, 0);
    }
    if (state.queue.length === 0) {
      state.index = -1;
      state.current = null;
      dropMedia();
      $("case-body").hidden = true;
      $("queue-empty").hidden = false;
      markCurrent();
      return;
    }
    $("queue-empty").hidden = true;
    await openCase(Math.min(Math.max(next, 0), state.queue.length - 1));
  }

  function renderQueue() {
    const ol = $("queue-list");
    ol.replaceChildren();
    const n = state.queue.length;
    const by = {};
    for (const c of state.queue) by[c.status] = (by[c.status] || 0) + 1;
    const parts = Object.entries(by).map(([s, k]) => k + " " + s);
    $("queue-count").textContent =
      (n === 0 ? "No cases" : n + (n >= 200 ? "+" : "") + (n === 1 ? " case" : " cases")) +
      (parts.length ? " (" + parts.join(", ") + ")" : "") + ", oldest first";
    state.queue.forEach((c, i) => {
      const uploads = c.item_count > 1 ? " · " + c.item_count + " uploads" : "";
      const b = el(
        "button",
        { type: "button", "data-case": c.id, "aria-label": "Case " + c.id + ", " + c.status },
        "#" + c.id + " · " + (c.media_type || "?") + uploads,
        el("span", {
          class: "sub",
          text: list(c.banks) + " · distance " + (c.min_distance ?? "?") + " · " + c.status + " · " + when(c.created_at),
        }),
      );
      b.addEventListener("click", () => openCase(i));
      ol.append(el("li", {}, b));
    });
  }

  function markCurrent() {
    for (const b of document.querySelectorAll("#queue-list button")) {
      const cur = state.current && Number(b.dataset.case) === state.current.id;
      if (cur) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
  }

  // ---- one case ----------------------------------------------------------------------

  async function openCase(i) {
    if (i < 0 || i >= state.queue.length) return;
    const seq = ++state.seq;
    state.index = i;
    const id = state.queue[i].id;
    let c;
    try {
      c = await getJson("/v1/cases/" + encodeURIComponent(id));
    } catch (e) {
      if (seq === state.seq) report(e, "Opening case #" + id);
      return;
    }
    if (seq !== state.seq) return;
    clearError();
    state.current = c;
    renderCase(c, seq);
    markCurrent();
  }

  function dropMedia() {
    for (const u of state.urls) URL.revokeObjectURL(u);
    state.urls = [];
    const box = $("media-box");
    box.replaceChildren(el("p", { id: "media-note", class: "note" }));
  }

  function setRevealed(on) {
    state.revealed = on;
    const m = document.querySelector("#media-box .media");
    if (m) m.classList.toggle("veiled", !on);
    const b = $("reveal");
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.textContent = on ? "Blur again (r)" : "Reveal (r)";
    $("veil-state").textContent = on ? "Revealed" : "Blurred";
  }

  function renderCase(c, seq) {
    $("case-body").hidden = false;
    $("queue-empty").hidden = true;
    $("case-title").textContent = "Case #" + c.id;
    const items = Array.isArray(c.items) ? c.items : [];
    const first = items[0] || {};
    $("case-meta").textContent =
      c.status + " · " + (first.media_type || "?") + " · opened " + when(c.created_at) +
      (c.updated_at && c.updated_at !== c.created_at ? " · updated " + when(c.updated_at) : "");
    const group = $("case-group");
    if (items.length > 1) {
      group.textContent =
        "This case groups " + items.length + " uploads of the same content. One decision applies to all of them; " +
        "only one is shown.";
      group.hidden = false;
    } else {
      group.hidden = true;
    }

    // Items, as text only.
    $("items-summary").textContent = items.length === 1 ? "1 upload in this case" : items.length + " uploads in this case";
    const tbody = $("items");
    tbody.replaceChildren();
    for (const it of items) {
      tbody.append(
        el("tr", {},
          el("td", { text: it.content_id }),
          el("td", { text: when(it.received_at) }),
          el("td", { text: it.media_type || "" }),
          el("td", { text: it.outcome || "" })),
      );
    }

    renderMatches(c);
    renderDecisions(c);

    const closed = c.status === "closed";
    for (const b of document.querySelectorAll("#decide .d")) b.disabled = closed || state.busy;
    $("note").disabled = closed;

    // The media: blurred before it is even fetched.
    dropMedia();
    setRevealed(false);
    const withMedia = items.find((it) => it.has_media);
    if (!withMedia) {
      $("media-note").textContent = "The upload's bytes were not kept; its hashes are in the case.";
      return;
    }
    $("media-note").textContent = "Loading the upload (it will stay blurred)…";
    loadMedia(c, withMedia, seq);
  }

  async function loadMedia(c, item, seq) {
    let blob;
    try {
      const r = await api("GET", "/v1/cases/" + encodeURIComponent(c.id) + "/items/" + encodeURIComponent(item.item_id) + "/media");
      blob = await r.blob();
    } catch (e) {
      if (seq === state.seq) {
        $("media-note").textContent = "The upload could not be loaded.";
        report(e, "Loading the upload");
      }
      return;
    }
    if (seq !== state.seq) return;
    const url = URL.createObjectURL(blob);
    state.urls.push(url);
    const s = (state.settings && state.settings.effective) || {};
    let m;
    if (item.media_type === "video") {
      m = el("video", { class: "media veiled", controls: true, preload: "metadata", playsinline: true,
        "aria-label": "Uploaded video of case " + c.id });
      m.muted = true;
      m.defaultMuted = true;
      if (s.autoplay) {
        m.autoplay = true;
      }
      m.addEventListener("loadedmetadata", () => renderMatches(state.current));
    } else {
      m = el("img", { class: "media veiled", alt: "Uploaded image of case " + c.id });
      m.addEventListener("load", () => placeRegions(m));
    }
    if (state.revealed) m.classList.remove("veiled");
    m.src = url;
    const box = $("media-box");
    box.replaceChildren(m);
  }

  // A match from edit-robust matching may say where in the upload the known image sits.
  function placeRegions(img) {
    const c = state.current;
    if (!c || !img.naturalWidth) return;
    for (const r of document.querySelectorAll("#media-box .region")) r.remove();
    for (const m of c.matches || []) {
      const g = m.region;
      if (!g) continue;
      const d = el("div", { class: "region", "aria-hidden": "true" });
      d.style.left = (100 * g.x) / img.naturalWidth + "%";
      d.style.top = (100 * g.y) / img.naturalHeight + "%";
      d.style.width = (100 * g.width) / img.naturalWidth + "%";
      d.style.height = (100 * g.height) / img.naturalHeight + "%";
      $("media-box").append(d);
    }
  }

  function renderMatches(c) {
    if (!c) return;
    const ul = $("matches");
    ul.replaceChildren();
    const matches = Array.isArray(c.matches) ? c.matches : [];
    if (matches.length === 0) ul.append(el("li", { text: "No bank entry is recorded for this case." }));
    const video = document.querySelector("#media-box video");
    for (const m of matches) {
      const dl = el("dl", {});
      const row = (k, v) => dl.append(el("dt", { text: k }), v instanceof Node ? el("dd", {}, v) : el("dd", { text: v }));
      row("Labels", labels(m.labels));
      row("Distance", m.distance === undefined || m.distance === null ? "—" : String(m.distance) + (m.signal_type === "pdq" ? " bits" : ""));
      row("Signal", m.signal_type || "—");
      row("Via", m.via || "—");
      row("Policy", m.policy || "—");
      row("Bank source", m.bank_source || "—");
      row("Source id", m.source_id || "—");
      if (m.region) {
        row("Region", m.region.width + "×" + m.region.height + " at " + m.region.x + "," + m.region.y + " (outlined when revealed)");
      }
      const li = el("li", {}, el("h4", { text: m.bank + " · entry " + m.entry_id }), dl);
      if (Array.isArray(m.segments) && m.segments.length) li.append(timeline(m.segments, video));
      ul.append(li);
    }
  }

  function timeline(segments, video) {
    let end = 0;
    for (const s of segments) end = Math.max(end, s.query_end || 0, s.bank_end || 0);
    if (video && isFinite(video.duration)) end = Math.max(end, video.duration);
    if (end <= 0) end = 1;
    const pct = (t) => Math.max(0, Math.min(100, (100 * t) / end)) + "%";
    const wrap = el("div", { class: "timeline" }, el("div", { class: "track-label", text: "Aligned segments (0:00 to " + secs(end) + ")" }));
    const q = el("div", { class: "track", role: "group", "aria-label": "Upload time" });
    const b = el("div", { class: "track", role: "group", "aria-label": "Bank video time" });
    const text = el("ul", { class: "segtext" });
    segments.forEach((s, i) => {
      const what = "upload " + secs(s.query_start) + "–" + secs(s.query_end) + " matches the bank video's " +
        secs(s.bank_start) + "–" + secs(s.bank_end) + (s.mean_distance !== undefined ? " (mean distance " + Number(s.mean_distance).toFixed(1) + ")" : "");
      const qs = el("button", { type: "button", class: "seg q", title: what, "aria-label": "Segment " + (i + 1) + ": " + what + ". Seek the upload there." });
      qs.style.left = pct(s.query_start);
      qs.style.width = pct(s.query_end - s.query_start);
      qs.addEventListener("click", () => {
        const v = document.querySelector("#media-box video");
        if (v) v.currentTime = s.query_start;
      });
      const bs = el("div", { class: "seg b", title: what });
      bs.style.left = pct(s.bank_start);
      bs.style.width = pct(s.bank_end - s.bank_start);
      q.append(qs);
      b.append(bs);
      text.append(el("li", { text: what }));
    });
    wrap.append(el("div", { class: "track-label", text: "Upload" }), q, el("div", { class: "track-label", text: "Bank video" }), b, text);
    return wrap;
  }

  function renderDecisions(c) {
    const ul = $("decisions");
    ul.replaceChildren();
    for (const d of c.decisions || []) {
      ul.append(el("li", { text: d.decision + " by " + d.reviewer + " at " + when(d.at) + (d.note ? ": " + d.note : "") }));
    }
  }

  const DONE = { confirm: "confirmed", reject: "rejected as a false positive", newsworthy: "marked newsworthy", escalate: "escalated" };

  async function decide(decision) {
    const c = state.current;
    if (!c || state.busy || c.status === "closed") return;
    state.busy = true;
    for (const b of document.querySelectorAll("#decide .d")) b.disabled = true;
    const note = $("note").value.trim();
    const body = { decision };
    if (note) body.note = note;
    try {
      await api("POST", "/v1/cases/" + encodeURIComponent(c.id) + "/decision", body);
      $("note").value = "";
      clearError();
      say("Case #" + c.id + " " + DONE[decision] + ".");
    } catch (e) {
      state.busy = false;
      if (e instanceof HttpError && e.status === 409) {
        // Someone else decided first: move on, then say so (opening a case clears errors).
        await loadQueue(c.id);
      } else {
        for (const b of document.querySelectorAll("#decide .d")) b.disabled = false;
      }
      report(e, "Case #" + c.id);
      return;
    }
    state.busy = false;
    await loadQueue(c.id);
  }

  function move(step) {
    if (state.queue.length === 0) return;
    const i = Math.min(Math.max(state.index + step, 0), state.queue.length - 1);
    if (i !== state.index) openCase(i);
  }

  // ---- banks -------------------------------------------------------------------------

  async function loadBanks() {
    let data;
    try {
      data = await getJson("/v1/banks");
    } catch (e) {
      report(e, "Loading the banks");
      return;
    }
    const banks = Array.isArray(data.banks) ? data.banks : [];
    const tbody = $("banks");
    tbody.replaceChildren();
    for (const b of banks) {
      tbody.append(
        el("tr", {},
          el("td", { text: b.name }),
          el("td", { text: b.policy }),
          el("td", {}, labels(b.labels)),
          el("td", { text: String(b.active_entries ?? "") }),
          el("td", { text: b.source || "" }),
          el("td", { text: b.description || "" })),
      );
    }
    const sel = $("f-bank");
    const chosen = sel.value;
    sel.replaceChildren(el("option", { value: "", text: "every bank" }));
    for (const b of banks) sel.append(el("option", { value: b.name, text: b.name }));
    sel.value = banks.some((b) => b.name === chosen) ? chosen : "";
  }

  // ---- wellness settings -------------------------------------------------------------

  function applySettings(preview) {
    const s = preview || (state.settings && state.settings.effective) || { blur_px: 24, greyscale: true, autoplay: false };
    const root = document.documentElement.style;
    root.setProperty("--blur", Math.max(0, Math.min(64, Number(s.blur_px) || 0)) + "px");
    root.setProperty("--grey", s.greyscale ? "1" : "0");
  }

  function fillSettings() {
    const s = state.settings;
    if (!s) return;
    $("s-blur").value = s.effective.blur_px;
    $("s-grey").checked = !!s.effective.greyscale;
    $("s-autoplay").checked = !!s.effective.autoplay;
    const on = (b) => (b ? "on" : "off");
    $("s-blur-default").textContent = "default " + s.defaults.blur_px + (s.mine.blur_px === null ? " (following it)" : "");
    $("s-grey-default").textContent = "default " + on(s.defaults.greyscale) + (s.mine.greyscale === null ? " (following it)" : "");
    $("s-autoplay-default").textContent = "default " + on(s.defaults.autoplay) + (s.mine.autoplay === null ? " (following it)" : "");
  }

  function formSettings() {
    return {
      blur_px: Math.round(Number($("s-blur").value)),
      greyscale: $("s-grey").checked,
      autoplay: $("s-autoplay").checked,
    };
  }

  async function saveSettings(patch) {
    try {
      const r = await api("PUT", "/v1/me/settings", patch);
      state.settings = await r.json();
      applySettings();
      fillSettings();
      clearError();
      say("Settings saved.");
    } catch (e) {
      report(e, "Saving settings");
    }
  }

  // ---- keyboard ----------------------------------------------------------------------

  function typing(target) {
    if (!target || !(target instanceof Element)) return false;
    const tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function onKey(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) {
      if (e.key === "Escape" && e.target.id === "note") e.target.blur();
      return;
    }
    if ($("help").open || currentView() === "login") return;
    if (e.key === "?") {
      e.preventDefault();
      $("help").showModal();
      return;
    }
    if (currentView() !== "queue") return;
    const keys = {
      r: () => state.current && setRevealed(!state.revealed),
      c: () => decide("confirm"),
      x: () => decide("reject"),
      n: () => decide("newsworthy"),
      e: () => decide("escalate"),
      j: () => move(1),
      k: () => move(-1),
      m: () => $("note").focus(),
    };
    const f = keys[e.key];
    if (f) {
      e.preventDefault();
      f();
    }
  }

  // ---- wiring ------------------------------------------------------------------------

  function init() {
    $("login-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const t = $("token").value.trim();
      if (t) login(t);
    });
    $("logout").addEventListener("click", () => logout());
    for (const b of document.querySelectorAll("#nav [data-view]")) {
      b.addEventListener("click", () => show(b.dataset.view));
    }
    $("help-open").addEventListener("click", () => $("help").showModal());
    $("reveal").addEventListener("click", () => setRevealed(!state.revealed));
    for (const b of document.querySelectorAll("#decide .d")) {
      b.addEventListener("click", () => decide(b.dataset.decision));
    }
    $("decide").addEventListener("submit", (e) => e.preventDefault());
    $("refresh").addEventListener("click", () => loadQueue());
    $("f-status").addEventListener("change", () => { state.current = null; state.index = -1; loadQueue(); });
    $("f-bank").addEventListener("change", () => { state.current = null; state.index = -1; loadQueue(); });
    $("filters").addEventListener("submit", (e) => e.preventDefault());
    $("settings-form").addEventListener("input", () => applySettings(formSettings()));
    $("settings-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const f = formSettings();
      const s = state.settings;
      // Send only what differs from what the reviewer follows now, so an untouched field
      // keeps following the deployment's default.
      const patch = {};
      for (const k of ["blur_px", "greyscale", "autoplay"]) {
        if (s.mine[k] !== null || f[k] !== s.defaults[k]) patch[k] = f[k];
      }
      saveSettings(patch);
    });
    $("s-reset").addEventListener("click", () => saveSettings({ blur_px: null, greyscale: null, autoplay: null }));
    document.addEventListener("keydown", onKey);

    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) login(saved);
    else $("token").focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

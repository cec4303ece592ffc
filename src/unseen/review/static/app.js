// unseen review: the page. Plain JavaScript, no build step, nothing loaded
// from elsewhere. Every text from the plan (file names above all) goes into
// the page as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

const state = {
  overview: null,   // GET api/overview
  index: null,      // the file shown
  file: null,       // GET api/files/N
  byFrame: new Map(),
  frame: 0,
  view: "original",
  selected: null,   // region id
  exported: null,   // GET api/export, once an export started
  zoom: 1,          // 1: the picture fits the window; more: its width times this
};

// -- talking to the server --------------------------------------------------

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const answer = await fetch(path, init);
  if (!answer.ok) {
    let reason = answer.statusText;
    try { reason = (await answer.json()).error || reason; } catch (_) { /* not JSON */ }
    show(`Refused: ${reason}`);
    throw new Error(reason);
  }
  return answer.status === 204 ? null : answer.json();
}

function show(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// -- overview ------------------------------------------------------------------

async function loadOverview() {
  state.overview = await api("api/overview");
  const fill = $("fill");
  fill.replaceChildren(...state.overview.fills.map((f) => el("option", { value: f }, f)));
  fill.value = state.overview.fill;
  $("fill-warning").hidden = !["blur", "pixelate"].includes(fill.value);
  $("saved").textContent = `Your decisions are saved as you make them, in ${state.overview.saved}` +
    " (resume the review, or run unseen apply on it). Keep that file private: it says where every face is.";
  renderOverview();
}

function attention(file) {
  const parts = [];
  if (file.low_score.length) parts.push(`${file.low_score.length} region(s) with a low score`);
  if (file.tracker_frames) parts.push(`${file.tracker_frames} frame(s) masked by the tracker alone`);
  for (const note of file.notes) parts.push(note);
  return parts.join("; ");
}

function resultOf(input) {
  if (!state.exported) return null;
  return state.exported.results.find((r) => r.input === input) || null;
}

function renderOverview() {
  const rows = [];
  for (const failure of state.overview.failed) {
    rows.push(el("tr", { class: "failed" },
      el("td", {}, failure.input), el("td", {}, ""),
      el("td", {}, `could not be planned: ${failure.error}`), el("td", {}, ""), el("td", {}, ""),
      el("td", {}, "")));
  }
  const files = [...state.overview.files].sort((a, b) => b.attention - a.attention || a.index - b.index);
  for (const file of files) {
    const result = resultOf(file.input);
    const regions = `${file.masked} masked, ${file.kept} kept` + (file.added ? `, ${file.added} added` : "");
    rows.push(el("tr", { "data-index": String(file.index), onclick: () => openFile(file.index) },
      el("td", {}, file.input),
      el("td", {}, `${file.kind} ${file.format}`),
      el("td", {}, file.kind === "audio" ? `voice: ${file.voice}` : "ready to protect"),
      el("td", {}, regions),
      el("td", { class: "attention" }, attention(file)),
      el("td", {}, result ? (result.status === "ok" ? "protected" : `failed: ${result.error}`) : "")));
  }
  $("files").replaceChildren(...rows);
  showSection("overview");
  $("where").textContent = "";
}

function showSection(name) {
  for (const id of ["overview", "file", "exported"]) $(id).hidden = id !== name;
}

// -- one file ---------------------------------------------------------------

async function openFile(index, frame) {
  const files = state.overview.files;
  if (!files.length) return;
  index = (index + files.length) % files.length;
  const file = await api(`api/files/${index}`);
  state.index = index;
  setZoom(1);
  setFile(file);
  state.selected = null;
  state.frame = frame !== undefined ? frame : 0;
  const video = file.kind === "video";
  const frames = Math.max(file.frames, 1);
  $("scrubber").hidden = frames <= 1;
  $("frame").max = String(frames - 1);
  $("follow-box").hidden = !video;
  $("stage").hidden = file.kind === "audio";
  $("audio-only").hidden = file.kind !== "audio";
  $("where").textContent = `${file.input} (${index + 1} of ${files.length})`;
  $("list-title").textContent = video ? "People (tracks)" : "Regions";
  renderVoice();
  $("notes").replaceChildren(...file.notes.map((n) => el("p", { class: "quiet" }, n)));
  showSection("file");
  if (file.kind !== "audio") await showFrame(state.frame);
  renderList();
}

function setFile(file) {
  state.file = file;
  state.byFrame = new Map();
  for (const region of file.regions) {
    if (!state.byFrame.has(region.frame)) state.byFrame.set(region.frame, []);
    state.byFrame.get(region.frame).push(region);
  }
}

async function showFrame(frame) {
  const file = state.file;
  frame = Math.max(0, Math.min(Math.max(file.frames, 1) - 1, frame));
  state.frame = frame;
  $("frame").value = String(frame);
  $("frame-label").textContent = `frame ${frame + 1} of ${Math.max(file.frames, 1)}`;
  const img = $("picture");
  // The preview is painted afresh after every change; the original is the same picture.
  const fresh = state.view === "preview" ? `&t=${Date.now()}` : "";
  const src = new URL(`api/files/${state.index}/frame/${frame}?view=${state.view}${fresh}`, document.baseURI).href;
  const loaded = img.src === src && img.complete ? Promise.resolve() : new Promise((resolve, reject) => {
    img.onload = resolve;
    img.onerror = () => reject(new Error("the picture could not be loaded"));
  });
  img.src = src;
  drawBoxes();
  try {
    await loaded;
    $("stage").dataset.shown = `${frame}-${state.view}`;
  } catch (e) { show(e.message); }
  if (file.kind === "video") renderList();
}

function regionsHere() {
  return state.byFrame.get(state.frame) || [];
}

function drawBoxes() {
  const file = state.file;
  const svg = $("boxes");
  const [w, h] = file.size || [1, 1];
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const rects = regionsHere().map((r) => {
    const [x1, y1, x2, y2] = r.box;
    const classes = [r.decision, r.source === "user" ? "user" : "", r.between ? "between" : "",
      r.id === state.selected ? "selected" : ""].filter(Boolean).join(" ");
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", x1); rect.setAttribute("y", y1);
    rect.setAttribute("width", x2 - x1); rect.setAttribute("height", y2 - y1);
    rect.setAttribute("class", classes);
    rect.dataset.id = r.id;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${r.id}: ${r.decision} (${r.detector}, score ${r.score.toFixed(2)})`;
    rect.append(title);
    rect.addEventListener("mousedown", (e) => e.stopPropagation());
    rect.addEventListener("click", (e) => { e.stopPropagation(); toggle(r); });
    return rect;
  });
  svg.replaceChildren(...rects);
}

function renderList() {
  const file = state.file;
  const items = [];
  if (file.kind === "video") {
    for (const t of file.tracks) {
      const decision = t.kept === 0 ? "mask" : t.masked === 0 ? "keep" : "mixed";
      const here = regionsHere().some((r) => r.track === t.track);
      items.push(el("li", {
        class: here && selectedTrack() === t.track ? "selected" : "",
        "data-track": String(t.track),
        onclick: () => showFrame(t.best_frame).then(() => select(regionsHere().find((r) => r.track === t.track))),
      },
      el("img", { src: `api/files/${state.index}/crop/${encodeURIComponent(t.best)}`, loading: "lazy", alt: "" }),
      el("span", { class: "what" },
        `${t.source === "user" ? "added " : ""}track ${t.track}: frames ${t.first + 1}-${t.last + 1} (${t.frames})`,
        el("br"), el("span", { class: `decision ${decision}` }, decision)),
      el("button", { type: "button", class: "keep-track", onclick: (e) => { e.stopPropagation(); decideTrack(t.track, "keep"); } }, "keep"),
      el("button", { type: "button", class: "mask-track", onclick: (e) => { e.stopPropagation(); decideTrack(t.track, "mask"); } }, "mask"),
      ...(t.source === "user" ? [el("button", {
        type: "button", title: "drop this track's boxes after the frame shown",
        onclick: (e) => { e.stopPropagation(); cutTrack(t.track); },
      }, "cut after")] : [])));
    }
  } else {
    for (const r of regionsHere()) {
      items.push(el("li", { class: r.id === state.selected ? "selected" : "", "data-id": r.id, onclick: () => select(r) },
        el("img", { src: `api/files/${state.index}/crop/${encodeURIComponent(r.id)}`, loading: "lazy", alt: "" }),
        el("span", { class: "what" }, `${r.id} ${r.source === "user" ? "(added)" : `score ${r.score.toFixed(2)}`}`,
          el("br"), el("span", { class: `decision ${r.decision}` }, r.decision))));
    }
  }
  if (!items.length) items.push(el("li", { class: "quiet" }, file.kind === "audio" ? "no pictures" : "nothing found here"));
  $("regions").replaceChildren(...items);
}

function renderVoice() {
  const file = state.file;
  const voice = file.voice;
  $("voice").hidden = !voice;
  if (!voice) return;
  const select = $("voice-mode");
  select.replaceChildren(...state.overview.voices.map((v) => el("option", { value: v }, v)));
  select.value = voice.mode;
  const speech = voice.speech;
  const spans = [];
  if (speech && speech.seconds_checked > 0) {
    for (const [a, b] of speech.segments) {
      const span = el("span");
      span.style.left = `${(100 * a) / speech.seconds_checked}%`;
      span.style.width = `${Math.max(0.3, (100 * (b - a)) / speech.seconds_checked)}%`;
      spans.push(span);
    }
  }
  $("timeline").replaceChildren(...spans);
  $("voice-text").textContent = speech
    ? `${speech.speech_seconds.toFixed(1)} s of speech in ${speech.seconds_checked.toFixed(1)} s (heard by ${speech.heard_by}); ` +
      { transform: "the voice is transformed", replace: "the words are re-spoken by a synthetic voice", keep: "the voice is kept as it is: it can identify the speaker" }[voice.mode]
    : "not listened for (planned with --voice keep)";
}

// -- decisions --------------------------------------------------------------

function selectedRegion() {
  return regionsHere().find((r) => r.id === state.selected) || null;
}

function selectedTrack() {
  const r = selectedRegion();
  return r ? r.track : null;
}

function select(region) {
  state.selected = region ? region.id : null;
  drawBoxes();
  renderList();
}

async function edit(action, body) {
  const answer = await api(`api/files/${state.index}/${action}`, body);
  setFile(answer.file);
  show(answer.unsaved || "");
  await showFrame(state.frame);
  renderList();
  return answer.made;
}

function baseId(region) {
  return region.id.split("@")[0];
}

async function decide(region, decision) {
  if (!region) return;
  if (state.file.kind === "video" && region.track !== null) return decideTrack(region.track, decision);
  await edit("decide", { decision, ids: [baseId(region)] });
}

async function decideTrack(track, decision) {
  await edit("decide", { decision, tracks: [track] });
}

async function toggle(region) {
  state.selected = region.id;
  await decide(region, region.decision === "mask" ? "keep" : "mask");
}

async function removeSelected() {
  const region = selectedRegion();
  if (!region || region.source !== "user") return;
  state.selected = null;
  await edit("remove", { ids: [baseId(region)] });
}

async function cutTrack(track) {
  await edit("cut", { track, frame: state.frame, side: "after" });
}

function step(delta) {
  const here = regionsHere();
  if (!here.length) return;
  const at = here.findIndex((r) => r.id === state.selected);
  select(here[(at + delta + here.length) % here.length]);
}

// -- drawing a region -------------------------------------------------------

function pointIn(svg, event) {
  const point = svg.createSVGPoint();
  point.x = event.clientX; point.y = event.clientY;
  const at = point.matrixTransform(svg.getScreenCTM().inverse());
  return [at.x, at.y];
}

function startDrawing(event) {
  if (event.button !== 0 || !state.file) return;
  const svg = $("boxes");
  const [x0, y0] = pointIn(svg, event);
  const rect = document.createElementNS(SVG, "rect");
  rect.setAttribute("class", "drawing");
  svg.append(rect);
  let box = null;
  const move = (e) => {
    const [x, y] = pointIn(svg, e);
    box = [Math.min(x0, x), Math.min(y0, y), Math.max(x0, x), Math.max(y0, y)];
    rect.setAttribute("x", box[0]); rect.setAttribute("y", box[1]);
    rect.setAttribute("width", box[2] - box[0]); rect.setAttribute("height", box[3] - box[1]);
  };
  const up = async () => {
    window.removeEventListener("mousemove", move);
    window.removeEventListener("mouseup", up);
    rect.remove();
    if (!box || box[2] - box[0] < 3 || box[3] - box[1] < 3) return;
    box = box.map((v) => Math.round(v * 10) / 10);
    if (state.file.kind === "video" && $("follow").checked) {
      show("Following the box through the neighbouring frames...");
      const track = await edit("follow", { frame: state.frame, box });
      state.selected = (regionsHere().find((r) => r.track === track) || {}).id || null;
    } else {
      const track = state.file.kind === "video" ? selectedUserTrack() : null;
      state.selected = await edit("add", track ? { frame: state.frame, box, track } : { frame: state.frame, box });
    }
    drawBoxes();
    renderList();
  };
  window.addEventListener("mousemove", move);
  window.addEventListener("mouseup", up);
}

function selectedUserTrack() {
  // A box drawn with a track drawn by hand selected (and the tracker off)
  // joins that track: the box moves in a straight line between the two.
  const id = state.selected;
  if (!id) return null;
  const region = state.file.regions.find((r) => r.id === id);
  return region && region.source === "user" && typeof region.track === "string" ? region.track : null;
}

// -- export -------------------------------------------------------------------

async function startExport() {
  await api("api/export", { replace: $("replace").checked });
  $("exported").dataset.state = "running";
  showSection("exported");
  $("where").textContent = "";
  pollExport();
}

async function pollExport() {
  const now = await api("api/export");
  state.exported = now;
  const frame = now.frame ? ` (${now.frame[0]}: frame ${now.frame[1]} of ${now.frame[2]})` : "";
  $("export-state").textContent = now.running
    ? `Protecting and verifying: ${now.done} of ${now.total} files done${frame}...`
    : now.error ? `Export stopped: ${now.error}`
    : `Done: ${now.results.filter((r) => r.status === "ok").length} protected and verified, ` +
      `${now.results.filter((r) => r.status === "failed").length} failed (no output for those).`;
  $("results").replaceChildren(...now.results.map((r) => el("li", { class: r.status },
    r.status === "ok" ? `${r.input} → ${r.output}` : `${r.input}: ${r.status}${r.error ? `: ${r.error}` : ""}`)));
  $("report-link").hidden = !now.report;
  $("exported").dataset.state = now.running ? "running" : now.error ? "stopped" : "done";
  if (now.running) setTimeout(pollExport, 500);
}

// -- keys and wiring ----------------------------------------------------------

function onKey(e) {
  if (e.target.tagName === "INPUT" && e.target.type !== "range" && e.target.type !== "checkbox") return;
  if (e.target.tagName === "SELECT") return;
  const inFile = !$("file").hidden;
  const key = e.key;
  if (key === "?") { $("keys").showModal(); return; }
  if (key === "o") { loadOverview(); return; }
  if (!inFile) return;
  const frames = Math.max(state.file.frames, 1);
  if (key === "n") step(1);
  else if (key === "p") step(-1);
  else if (key === "k") decide(selectedRegion(), "keep");
  else if (key === "m") decide(selectedRegion(), "mask");
  else if (key === "Delete" || key === "Backspace") removeSelected();
  else if (key === "]") openFile(state.index + 1);
  else if (key === "[") openFile(state.index - 1);
  else if (key === "v") setView(state.view === "original" ? "preview" : "original");
  else if (key === "+" || key === "=") setZoom(state.zoom * 2);
  else if (key === "-") setZoom(state.zoom / 2);
  else if (key === "0") setZoom(1);
  else if ((key === "ArrowRight" || key === "ArrowLeft") && frames > 1) {
    const delta = (key === "ArrowRight" ? 1 : -1) * (e.shiftKey ? 10 : 1);
    showFrame(state.frame + delta);
  } else return;
  e.preventDefault();
}

// Small faces in a large photo: zoom in, and scroll. Boxes follow, being
// drawn in the picture's own pixels.
function setZoom(zoom) {
  const img = $("picture");
  if (state.zoom === 1) state.fitWidth = img.clientWidth || img.naturalWidth;
  state.zoom = Math.max(1, Math.min(16, zoom));
  img.classList.toggle("zoomed", state.zoom > 1);
  $("stage").classList.toggle("zoomed", state.zoom > 1);
  img.style.width = state.zoom > 1 ? `${Math.round(state.fitWidth * state.zoom)}px` : "";
  $("zoom-label").textContent = state.zoom > 1 ? `${state.zoom}x` : "fit";
}

function setView(view) {
  state.view = view;
  for (const radio of document.querySelectorAll("input[name=view]")) radio.checked = radio.value === view;
  showFrame(state.frame);
}

function wire() {
  $("to-overview").addEventListener("click", loadOverview);
  $("help").addEventListener("click", () => $("keys").showModal());
  $("export").addEventListener("click", startExport);
  $("prev-file").addEventListener("click", () => openFile(state.index - 1));
  $("next-file").addEventListener("click", () => openFile(state.index + 1));
  $("prev-frame").addEventListener("click", () => showFrame(state.frame - 1));
  $("zoom-in").addEventListener("click", () => setZoom(state.zoom * 2));
  $("zoom-out").addEventListener("click", () => setZoom(state.zoom / 2));
  $("next-frame").addEventListener("click", () => showFrame(state.frame + 1));
  $("frame").addEventListener("input", (e) => showFrame(Number(e.target.value)));
  $("boxes").addEventListener("mousedown", startDrawing);
  $("fill").addEventListener("change", async (e) => {
    await api("api/fill", { fill: e.target.value });
    $("fill-warning").hidden = !["blur", "pixelate"].includes(e.target.value);
    if (!$("file").hidden) showFrame(state.frame);
  });
  $("voice-mode").addEventListener("change", async (e) => {
    await edit("voice", { mode: e.target.value });
    renderVoice();
  });
  for (const radio of document.querySelectorAll("input[name=view]")) {
    radio.addEventListener("change", (e) => setView(e.target.value));
  }
  document.addEventListener("keydown", onKey);
  // The server stops soon after the page goes (a reload comes back in time).
  window.addEventListener("pagehide", () => navigator.sendBeacon("api/bye"));
  setInterval(() => fetch("api/ping", { method: "POST" }), 30000);
}

wire();
loadOverview().catch((e) => show(e.message));

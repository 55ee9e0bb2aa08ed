// The starbrain web console: wires the globe, the tabs and the live WebSocket to the REST API.

import { api, liveUrl } from "./api.js";
import { el, fmtTime } from "./common.js";
import { loadLand, shellColour } from "./earthmap.js";
import { createGlobe } from "./globe.js";
import { installLinks } from "./links.js";
import { addEvent, loadConjunctions, loadLoop, loadModels, loadParameters, loadSeries } from "./panels.js";
import { drawArm, loadArm, loadCompute, loadPosts, loadVehicles, searchPosts } from "./fleets.js";
import { PorkchopPlot } from "./porkchop.js";

const $ = (sel) => document.querySelector(sel);
const PAGE = 25;

// Exposed for tests and for poking around in the browser's console.
const state = (window.starbrain = {
  renderer: null,
  frames: 0,
  ready: false,
  hiddenShells: new Set(),
  catalogOffset: 0,
  selected: null,
  ws: null,
});

function toast(message) {
  const el = $("#toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 6000);
}


const fmtClock = (iso) => (iso ? iso.slice(11, 19) : "—");
const fmtNum = (v, d) => (v === null || v === undefined ? "—" : Number(v).toFixed(d));

// ---------------------------------------------------------------- tabs

function showTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const t of document.querySelectorAll(".tab")) t.hidden = t.id !== `tab-${name}`;
  if (name === "conjunctions") loadConjunctions(state, toast).catch((err) => toast(err.message));
  if (name === "telemetry") loadParameters(state, toast).catch((err) => toast(err.message));
  if (name === "loop") Promise.all([loadModels(), loadLoop(state)]).catch((err) => toast(err.message));
  const fleets = { vehicles: loadVehicles, arm: loadArm, compute: loadCompute, posts: loadPosts };
  if (fleets[name]) fleets[name](state).catch((err) => toast(err.message));
  if (name === "mars" && !state.marsLoaded) {
    state.marsLoaded = true;
    loadWindows();
    loadPorkchop();
  }
}

// ---------------------------------------------------------------- catalogue

function renderShells(shells) {
  const body = $("#shells-table tbody");
  body.replaceChildren(
    ...shells.map((s) =>
      el(
        "tr",
        {
          class: state.hiddenShells.has(s.id) ? "hidden-shell" : "",
          onclick: () => {
            if (state.hiddenShells.has(s.id)) state.hiddenShells.delete(s.id);
            else state.hiddenShells.add(s.id);
            state.globe.setHiddenShells(new Set(state.hiddenShells));
            renderShells(shells);
          },
        },
        el("td", {}, el("span", { class: "swatch", style: `background:${shellColour(s.id)}` })),
        el("td", {}, s.label),
        el("td", { class: "num" }, s.count.toLocaleString()),
      ),
    ),
  );
}

async function loadCatalog() {
  const search = $("#catalog-search").value.trim();
  const page = await api("/api/catalog", { offset: state.catalogOffset, limit: PAGE, search });
  const s = page.summary;
  $("#stat-objects").textContent = s.objects.toLocaleString();
  $("#stat-sets").textContent = s.element_sets.toLocaleString();
  $("#stat-shells").textContent = s.shells.length;
  $("#stat-epoch").textContent = s.newest_epoch ? s.newest_epoch.slice(0, 19).replace("T", " ") : "—";
  renderShells(s.shells);
  $("#objects-table tbody").replaceChildren(
    ...page.objects.map((o) =>
      el(
        "tr",
        { onclick: () => select(o.norad_id) },
        el("td", {}, o.norad_id),
        el("td", {}, o.name ?? ""),
        el("td", { class: "num" }, fmtNum(o.inclination_deg, 2)),
        el("td", { class: "num" }, fmtNum(o.perigee_km, 0)),
        el("td", { class: "num" }, fmtNum(o.period_min, 1)),
      ),
    ),
  );
  const last = Math.min(page.offset + page.limit, page.total);
  $("#page-info").textContent = page.total ? `${page.offset + 1}–${last} of ${page.total.toLocaleString()}` : "no objects";
  $("#page-prev").disabled = page.offset === 0;
  $("#page-next").disabled = last >= page.total;
}

// ---------------------------------------------------------------- selection

async function select(norad) {
  state.selected = norad;
  state.globe.setSelected(norad);
  try {
    const [detail, track] = await Promise.all([
      api(`/api/catalog/${norad}`),
      api(`/api/groundtrack/${norad}`, { minutes: 100, step_s: 30, start: state.simTime }),
    ]);
    state.globe.setTrack(track);
    const first = track.lat_deg.findIndex((v) => v !== null);
    // look from beside the satellite, not straight down, so its track shows as a curve
    if (first >= 0) state.globe.lookAt(track.lat_deg[first] - 20, track.lon_deg[first] + 35);
    const rows = [
      ["NORAD", detail.norad_id],
      ["epoch", fmtTime(detail.epoch, "month")],
      ["inclination", `${fmtNum(detail.inclination_deg, 3)}°`],
      ["perigee / apogee", `${fmtNum(detail.perigee_km, 0)} / ${fmtNum(detail.apogee_km, 0)} km`],
      ["period", `${fmtNum(detail.period_min, 2)} min`],
      ["eccentricity", fmtNum(detail.eccentricity, 7)],
      ["stored epochs", detail.history_epochs.length],
    ];
    const body = $("#selection-body");
    body.replaceChildren(
      el("strong", {}, detail.name ?? `NORAD ${norad}`),
      el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      el("div", { class: "muted" }, "ground track: next 100 min"),
    );
    if (detail.tle_line1) body.append(el("div", { class: "tle" }, `${detail.tle_line1}\n${detail.tle_line2}`));
    $("#selection").hidden = false;
  } catch (err) {
    toast(err.message);
  }
}

function clearSelection() {
  state.selected = null;
  state.globe.setSelected(null);
  state.globe.setTrack(null);
  $("#selection").hidden = true;
}

// ---------------------------------------------------------------- passes

async function loadStations() {
  const { stations } = await api("/api/stations");
  state.stations = stations;
  state.globe.setStations(stations);
  $("#station-list").replaceChildren(
    ...stations.map((s) =>
      el("label", {}, el("input", { type: "checkbox", value: s.name, checked: "" }), s.name),
    ),
  );
}

async function findPasses(event) {
  event?.preventDefault();
  const button = $("#passes-submit");
  const station = [...document.querySelectorAll("#station-list input:checked")].map((c) => c.value);
  const custom = $("#custom-station").value.trim();
  if (custom) station.push(custom);
  const norad = $("#passes-norad").value.split(/[\s,]+/).filter(Boolean);
  button.disabled = true;
  $("#passes-summary").textContent = "computing…";
  try {
    const r = await api("/api/passes", {
      station,
      hours: $("#passes-hours").value,
      min_elevation: $("#passes-minel").value,
      limit: $("#passes-limit").value,
      norad,
    });
    $("#passes-summary").textContent =
      `${r.total.toLocaleString()} passes of ${r.satellites.toLocaleString()} satellites over ` +
      `${r.stations.map((s) => s.name).join(", ")} above ${r.min_elevation_deg}° ` +
      `(${fmtTime(r.start, "month")} – ${fmtTime(r.stop, "month")} UTC)` + (r.truncated ? `; first ${r.passes.length} shown` : "") +
      `; propagated with ${r.propagator}`;
    if (custom) state.globe.setStations(r.stations);
    $("#passes-table tbody").replaceChildren(
      ...r.passes.map((p) =>
        el(
          "tr",
          { onclick: () => select(p.norad_id) },
          el("td", { title: `NORAD ${p.norad_id}` }, p.name ?? p.norad_id),
          el("td", {}, p.station),
          el("td", { title: p.rise ?? "above the mask at the window start" }, p.rise ? fmtTime(p.rise, "month") : "(up)"),
          el("td", { title: p.culminate ?? "" }, fmtClock(p.culminate)),
          el("td", { title: p.set ?? "above the mask at the window end" }, p.set ? fmtClock(p.set) : "(up)"),
          el("td", { class: "num" }, fmtNum(p.max_elevation_deg, 1)),
          el("td", {}, p.sunlit ? "☀" : "·"),
        ),
      ),
    );
  } catch (err) {
    $("#passes-summary").textContent = err.message;
    toast(err.message);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- Mars

async function loadWindows(event) {
  event?.preventDefault();
  const body = $("#windows-table tbody");
  body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "searching…")));
  try {
    const r = await api("/api/mars/windows", { from: $("#windows-from").value, to: $("#windows-to").value });
    body.replaceChildren(
      ...r.windows.map((w) =>
        el(
          "tr",
          {
            onclick: () => {
              $("#porkchop-window").value = w.launch.slice(0, 4);
              loadPorkchop();
            },
          },
          el("td", {}, w.opportunity.slice(0, 7)),
          el("td", {}, w.type === 1 ? "I" : "II"),
          el("td", {}, w.launch.slice(0, 10)),
          el("td", {}, w.arrival.slice(0, 10)),
          el("td", { class: "num" }, fmtNum(w.tof_days, 0)),
          el("td", { class: "num" }, fmtNum(w.c3_km2_s2, 2) + (w.on_boundary ? "*" : "")),
          el("td", { class: "num" }, fmtNum(w.vinf_arr_kms, 2)),
        ),
      ),
    );
  } catch (err) {
    body.replaceChildren();
    toast(err.message);
  }
}

async function loadPorkchop(event) {
  event?.preventDefault();
  try {
    const data = await api("/api/mars/porkchop", {
      window: $("#porkchop-window").value,
      step_days: $("#porkchop-step").value,
    });
    state.porkchop.draw(data);
    state.porkchopData = data;
  } catch (err) {
    toast(err.message);
  }
}

// ---------------------------------------------------------------- live

function connectLive() {
  const ws = new WebSocket(liveUrl({ interval_s: 2, speed: $("#speed").value }));
  state.ws = ws;
  ws.onopen = () => {
    $("#live-dot").className = "dot on";
    $("#live-status").textContent = "live";
  };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "positions") {
      state.frames += 1;
      state.simTime = msg.time;
      state.lastFrame = msg;
      state.globe.setPositions(msg);
      state.globe.setTime(new Date(msg.time));
      $("#live-frames").textContent = state.frames;
      $("#sim-time").textContent = msg.time.slice(0, 19).replace("T", " ");
    } else if (msg.type === "event") {
      state.lastEvent = msg;
      addEvent(state, msg);
    } else if (msg.type === "error") {
      toast(`live: ${msg.message}`);
    }
  };
  ws.onclose = () => {
    $("#live-dot").className = "dot off";
    $("#live-status").textContent = "reconnecting";
    if (state.ws === ws) setTimeout(connectLive, 3000);
  };
}

// ---------------------------------------------------------------- start

async function main() {
  const { globe, note } = await createGlobe($("#globe"), $("#globe-labels"));
  state.globe = globe;
  state.renderer = globe.kind;
  if (note) {
    $("#globe-note").textContent = note;
    $("#globe-note").hidden = false;
  }
  if (globe.kind !== "webgl") $(".hint").textContent = "click a satellite";
  globe.onPick((norad) => select(norad));
  state.selectObject = select;
  state.porkchop = new PorkchopPlot($("#porkchop"), $("#porkchop-readout"));

  for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("#catalog-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.catalogOffset = 0;
    loadCatalog().catch((err) => toast(err.message));
  });
  $("#page-prev").addEventListener("click", () => {
    state.catalogOffset = Math.max(0, state.catalogOffset - PAGE);
    loadCatalog().catch((err) => toast(err.message));
  });
  $("#page-next").addEventListener("click", () => {
    state.catalogOffset += PAGE;
    loadCatalog().catch((err) => toast(err.message));
  });
  $("#passes-form").addEventListener("submit", findPasses);
  $("#windows-form").addEventListener("submit", loadWindows);
  $("#porkchop-form").addEventListener("submit", loadPorkchop);
  $("#selection-close").addEventListener("click", clearSelection);
  $("#conj-sort").addEventListener("change", () => loadConjunctions(state, toast).catch((err) => toast(err.message)));
  $("#conj-refresh").addEventListener("click", () => loadConjunctions(state, toast).catch((err) => toast(err.message)));
  $("#tm-parameter").addEventListener("change", () => loadSeries(state, toast));
  $("#tm-minutes").addEventListener("change", () => loadSeries(state, toast));
  $("#tm-refresh").addEventListener("click", () => loadParameters(state, toast).catch((err) => toast(err.message)));
  const reload = (fn) => () => fn(state).catch((err) => toast(err.message));
  $("#veh-select").addEventListener("change", reload(loadVehicles));
  $("#veh-refresh").addEventListener("click", reload(loadVehicles));
  $("#arm-refresh").addEventListener("click", reload(loadArm));
  $("#arm-time").addEventListener("input", () => drawArm(state));
  $("#cmp-policy").addEventListener("change", reload(loadCompute));
  $("#cmp-refresh").addEventListener("click", reload(loadCompute));
  $("#posts-search-form").addEventListener("submit", (e) => searchPosts(state, e).catch((err) => toast(err.message)));
  $("#speed").addEventListener("change", () => {
    if (state.ws?.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify({ speed: Number($("#speed").value) }));
  });

  connectLive();
  installLinks(state, toast).catch((err) => toast(`links: ${err.message}`));
  loadLand().then((land) => land && globe.setLand(land));
  await Promise.all([loadCatalog(), loadStations()]).catch((err) => toast(err.message));
  state.ready = true;
}

main().catch((err) => toast(`console failed to start: ${err.message}`));

// Inter-satellite links and a city-to-city route on the globe: line segments from /api/links
// (one shell's +Grid links) and /api/route (city -> satellites -> city), both in ITRF km, redrawn
// at the simulated time of every new live frame. Counts of drawn segments are exposed on
// window.starbrain (islSegments, routeSegments) for tests.

import { api } from "./api.js";
import { DEG, EARTH_RADIUS_KM } from "./common.js";

const ISL_COLOUR = 0x7fdbff;
const ROUTE_COLOUR = 0xff2a2a; // pure red: no shell colour is near it

const $ = (sel) => document.querySelector(sel);

/** ITRF km -> three.js scene units (Earth radii), y up: (X, Z, -Y), as the globe draws. */
function toScene(x, y, z, out, offset) {
  out[offset] = x / EARTH_RADIUS_KM;
  out[offset + 1] = z / EARTH_RADIUS_KM;
  out[offset + 2] = -y / EARTH_RADIUS_KM;
}

/** Geocentric latitude/longitude in degrees (close enough to geodetic for a flat map). */
function latLon(x, y, z) {
  return [Math.atan2(z, Math.hypot(x, y)) / DEG, Math.atan2(y, x) / DEG];
}

/** Segments as [[x, y, z], [x, y, z]] pairs (km) from the links body: the links that are up. */
function islSegments(body) {
  const out = [];
  for (let i = 0; i < body.link_a.length; i++) {
    if (!body.up[i]) continue;
    const a = body.link_a[i];
    const b = body.link_b[i];
    if (body.x_km[a] === null || body.x_km[b] === null) continue;
    out.push([
      [body.x_km[a], body.y_km[a], body.z_km[a]],
      [body.x_km[b], body.y_km[b], body.z_km[b]],
    ]);
  }
  return out;
}

function routeSegments(body) {
  if (!body.connected) return [];
  const p = body.nodes.map((n) => [n.x_km, n.y_km, n.z_km]);
  return p.slice(1).map((q, i) => [p[i], q]);
}

/** A layer of line segments on the 3-D globe (three.js LineSegments) or on the flat map. */
class SegmentLayer {
  constructor(globe, colour, opacity, pointSize = 0) {
    this.globe = globe;
    this.pointSize = pointSize;
    this.segments = [];
    this.colour = colour;
    if (globe.kind === "webgl") {
      const THREE = globe.THREE;
      this.geometry = new THREE.BufferGeometry();
      this.lines = new THREE.LineSegments(
        this.geometry,
        new THREE.LineBasicMaterial({ color: colour, transparent: true, opacity }),
      );
      this.lines.frustumCulled = false;
      this.lines.renderOrder = pointSize ? 2 : 1;
      globe.scene.add(this.lines);
      if (pointSize) {
        // the path's nodes as dots: a 1-pixel line alone is lost among the links
        this.points = new THREE.Points(
          this.geometry,
          new THREE.PointsMaterial({ color: colour, size: pointSize, sizeAttenuation: false }),
        );
        this.points.frustumCulled = false;
        this.points.renderOrder = 3;
        globe.scene.add(this.points);
      }
    }
  }

  set(segments) {
    this.segments = segments;
    if (this.lines) {
      const xyz = new Float32Array(segments.length * 6);
      segments.forEach(([a, b], i) => {
        toScene(a[0], a[1], a[2], xyz, 6 * i);
        toScene(b[0], b[1], b[2], xyz, 6 * i + 3);
      });
      this.geometry.setAttribute("position", new this.globe.THREE.BufferAttribute(xyz, 3));
      this.geometry.computeBoundingSphere();
      this.globe.invalidate();
    } else {
      this.globe.draw();
    }
  }

  /** Draw on the flat map's 2-D context (called after the map has drawn itself). */
  draw2d(ctx, g) {
    if (!this.segments.length) return;
    ctx.strokeStyle = `#${this.colour.toString(16).padStart(6, "0")}`;
    ctx.globalAlpha = 0.7;
    ctx.beginPath();
    for (const [a, b] of this.segments) {
      const [lat1, lon1] = latLon(...a);
      const [lat2, lon2] = latLon(...b);
      if (Math.abs(lon1 - lon2) > 180) continue; // across the date line
      ctx.moveTo(...this.globe.xy(lat1, lon1, g));
      ctx.lineTo(...this.globe.xy(lat2, lon2, g));
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
    if (this.pointSize) {
      ctx.fillStyle = ctx.strokeStyle;
      for (const [a, b] of this.segments) {
        for (const p of [a, b]) {
          const [x, y] = this.globe.xy(...latLon(...p), g);
          ctx.fillRect(x - 2, y - 2, 4, 4);
        }
      }
    }
  }
}

/** Wire the links card to the globe; `state` is window.starbrain, `toast` shows errors. */
export async function installLinks(state, toast) {
  const globe = state.globe;
  const isl = new SegmentLayer(globe, ISL_COLOUR, 0.45);
  const path = new SegmentLayer(globe, ROUTE_COLOUR, 1.0, 6);
  state.islSegments = 0;
  state.routeSegments = 0;
  state.route = null;
  if (globe.kind !== "webgl") {
    const draw = globe.draw.bind(globe);
    globe.draw = () => {
      draw();
      const ctx = globe.canvas.getContext("2d");
      const g = globe.geometry();
      isl.draw2d(ctx, g);
      path.draw2d(ctx, g);
    };
  }

  const [{ cities }, catalog] = await Promise.all([api("/api/cities"), api("/api/catalog", { limit: 1 })]);
  const option = (value, label, selected) => {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    o.selected = selected;
    return o;
  };
  $("#isl-shell").replaceChildren(
    ...catalog.summary.shells.filter((s) => s.label !== "other").map((s, i) => option(s.id, `${s.id}: ${s.label}`, i === 0)),
  );
  for (const [sel, name] of [["#route-from", "London"], ["#route-to", "New York"]]) {
    $(sel).replaceChildren(...cities.map((c) => option(c.name, c.name, c.name === name)));
  }

  let busy = false;
  let again = false;
  let shownAt = null;

  async function refresh(force = false) {
    if (busy) {
      again ||= force;
      return;
    }
    if (!force && shownAt === state.simTime) return;
    busy = true;
    const time = state.simTime;
    try {
      const shell = $("#isl-shell").value;
      if ($("#isl-toggle").checked && shell !== "") {
        const body = await api("/api/links", { shell, time });
        const segments = islSegments(body);
        isl.set(segments);
        state.islSegments = segments.length;
        $("#isl-info").textContent =
          `${body.count} satellites in ${body.planes} planes: ${body.links_up} of ${body.links_total} links up`;
      } else if (state.islSegments) {
        isl.set([]);
        state.islSegments = 0;
        $("#isl-info").textContent = "";
      }
      if ($("#route-toggle").checked) {
        const body = await api("/api/route", {
          from: $("#route-from").value,
          to: $("#route-to").value,
          shell: shell || 0,
          time,
        });
        state.route = body;
        const segments = routeSegments(body);
        path.set(segments);
        state.routeSegments = segments.length;
        $("#route-info").textContent = body.connected
          ? `RTT ${body.rtt_ms.toFixed(2)} ms · ${body.hops} hops · fibre ${body.fibre_rtt_ms.toFixed(2)} ms`
          : "no path now (no satellite above the mask at one end)";
      } else if (state.route) {
        path.set([]);
        state.route = null;
        state.routeSegments = 0;
        $("#route-info").textContent = "";
      }
      shownAt = time;
      state.linksTime = time;
    } catch (err) {
      $("#isl-toggle").checked = false;
      $("#route-toggle").checked = false;
      toast(err.message);
    } finally {
      busy = false;
    }
    if (again) {
      again = false;
      await refresh(true);
    }
  }

  for (const id of ["#isl-toggle", "#isl-shell", "#route-toggle", "#route-from", "#route-to"]) {
    $(id).addEventListener("change", () => refresh(true));
  }
  // follow the live frames: redraw at each new simulated time while a layer is on
  setInterval(() => {
    if ($("#isl-toggle").checked || $("#route-toggle").checked) refresh();
  }, 1000);
}

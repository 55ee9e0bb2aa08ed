// The globe: satellites (coloured by shell), ground stations and a selected ground track, in the
// Earth-fixed frame (ITRF) so the Earth does not turn under the camera. A three.js (WebGL) globe
// when the vendored three.js loads and WebGL works; otherwise a 2-D equirectangular map with the
// same interface, so the console stays usable without either.

import { DEG, EARTH_RADIUS_KM } from "./common.js";
import { drawEarthMap, shellColour, subsolarPoint } from "./earthmap.js";


/** Geodetic degrees/km -> scene units (Earth radii), y up: three (x, y, z) = ITRF (X, Z, -Y). */
function toScene(latDeg, lonDeg, altKm, out, offset) {
  const r = 1 + altKm / EARTH_RADIUS_KM;
  const lat = latDeg * DEG;
  const lon = lonDeg * DEG;
  out[offset] = r * Math.cos(lat) * Math.cos(lon);
  out[offset + 1] = r * Math.sin(lat);
  out[offset + 2] = -r * Math.cos(lat) * Math.sin(lon);
}

function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255];
}

class Globe3D {
  constructor(THREE, canvas, labels) {
    this.kind = "webgl";
    this.THREE = THREE;
    this.canvas = canvas;
    this.labels = labels;
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: true, preserveDrawingBuffer: true });
    this.renderer.setClearColor(0x000000, 0);
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.01, 100);
    this.view = { azimuth: 20 * DEG, elevation: 25 * DEG, distance: 4.2 };
    this.hiddenShells = new Set();
    this.positions = null;
    this.stations = [];
    this.pickHandler = null;

    this.mapCanvas = document.createElement("canvas");
    this.mapCanvas.width = 2048;
    this.mapCanvas.height = 1024;
    drawEarthMap(this.mapCanvas.getContext("2d"), null);
    this.texture = new THREE.CanvasTexture(this.mapCanvas);
    this.texture.colorSpace = THREE.SRGBColorSpace;
    this.texture.anisotropy = 4;
    const earth = new THREE.Mesh(
      new THREE.SphereGeometry(1, 128, 64),
      new THREE.MeshPhongMaterial({ map: this.texture, shininess: 8, specular: 0x222222 }),
    );
    this.scene.add(earth);
    const atmosphere = new THREE.Mesh(
      new THREE.SphereGeometry(1.025, 64, 32),
      new THREE.MeshBasicMaterial({ color: 0x4cc9f0, transparent: true, opacity: 0.06, side: THREE.BackSide }),
    );
    this.scene.add(atmosphere);
    this.scene.add(new THREE.AmbientLight(0xffffff, 0.55));
    this.sun = new THREE.DirectionalLight(0xffffff, 1.6);
    this.scene.add(this.sun);
    this.setTime(new Date());

    this.satGeometry = new THREE.BufferGeometry();
    this.satPoints = new THREE.Points(
      this.satGeometry,
      new THREE.PointsMaterial({ size: 3, sizeAttenuation: false, vertexColors: true }),
    );
    this.satPoints.frustumCulled = false;
    this.scene.add(this.satPoints);

    this.selectedGeometry = new THREE.BufferGeometry();
    this.selectedGeometry.setAttribute("position", new THREE.Float32BufferAttribute([0, 0, 0], 3));
    this.selectedPoint = new THREE.Points(
      this.selectedGeometry,
      new THREE.PointsMaterial({ size: 9, sizeAttenuation: false, color: 0xffffff }),
    );
    this.selectedPoint.visible = false;
    this.scene.add(this.selectedPoint);

    this.stationGeometry = new THREE.BufferGeometry();
    this.stationPoints = new THREE.Points(
      this.stationGeometry,
      new THREE.PointsMaterial({ size: 8, sizeAttenuation: false, color: 0xffd166 }),
    );
    this.scene.add(this.stationPoints);

    this.trackLine = new THREE.Line(
      new THREE.BufferGeometry(),
      new THREE.LineBasicMaterial({ color: 0xffe08a, transparent: true, opacity: 0.9 }),
    );
    this.trackLine.frustumCulled = false;
    this.scene.add(this.trackLine);

    this.installControls();
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
    this.loop();
  }

  installControls() {
    let drag = null;
    this.canvas.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: 0 };
      this.canvas.setPointerCapture(e.pointerId);
    });
    this.canvas.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      drag.moved += Math.abs(dx) + Math.abs(dy);
      drag.x = e.clientX;
      drag.y = e.clientY;
      const k = 0.005 * (this.view.distance / 4.2);
      this.view.azimuth -= dx * k;
      this.view.elevation = Math.max(-1.5, Math.min(1.5, this.view.elevation + dy * k));
      this.invalidate();
    });
    this.canvas.addEventListener("pointerup", (e) => {
      if (drag && drag.moved < 4) this.pick(e);
      drag = null;
    });
    this.canvas.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        this.view.distance = Math.max(1.3, Math.min(12, this.view.distance * Math.exp(e.deltaY * 0.001)));
        this.invalidate();
      },
      { passive: false },
    );
  }

  resize() {
    const w = this.canvas.clientWidth || 1;
    const h = this.canvas.clientHeight || 1;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.invalidate();
  }

  updateCamera() {
    const { azimuth, elevation, distance } = this.view;
    this.camera.position.set(
      distance * Math.cos(elevation) * Math.cos(azimuth),
      distance * Math.sin(elevation),
      -distance * Math.cos(elevation) * Math.sin(azimuth),
    );
    this.camera.lookAt(0, 0, 0);
  }

  /** Render on the next animation frame (only when something changed: software GL is slow). */
  invalidate() {
    this.dirty = true;
  }

  loop() {
    if (this.dirty) {
      this.dirty = false;
      this.updateCamera();
      this.renderer.render(this.scene, this.camera);
      this.placeLabels();
      this.renders = (this.renders ?? 0) + 1;
    }
    requestAnimationFrame(() => this.loop());
  }

  setLand(rings) {
    drawEarthMap(this.mapCanvas.getContext("2d"), rings);
    this.texture.needsUpdate = true;
    this.invalidate();
  }

  setTime(date) {
    const { lat, lon } = subsolarPoint(date);
    const p = [0, 0, 0];
    toScene(lat, lon, 0, p, 0);
    this.sun.position.set(p[0] * 10, p[1] * 10, p[2] * 10);
    this.invalidate();
  }

  lookAt(latDeg, lonDeg) {
    this.view.azimuth = lonDeg * DEG;
    this.view.elevation = Math.max(-1.2, Math.min(1.2, latDeg * DEG));
    this.invalidate();
  }

  setPositions(frame) {
    const n = frame.norad_id.length;
    const xyz = new Float32Array(n * 3);
    const rgb = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      const lat = frame.lat_deg[i];
      if (lat === null || this.hiddenShells.has(frame.shell[i])) continue; // parked at the centre
      toScene(lat, frame.lon_deg[i], frame.alt_km[i], xyz, 3 * i);
      const [r, g, b] = hexToRgb(shellColour(frame.shell[i]));
      rgb[3 * i] = r;
      rgb[3 * i + 1] = g;
      rgb[3 * i + 2] = b;
    }
    this.positions = { frame, xyz };
    this.satGeometry.setAttribute("position", new this.THREE.BufferAttribute(xyz, 3));
    this.satGeometry.setAttribute("color", new this.THREE.BufferAttribute(rgb, 3));
    this.updateSelected();
    this.invalidate();
  }

  setHiddenShells(hidden) {
    this.hiddenShells = hidden;
    if (this.positions) this.setPositions(this.positions.frame);
  }

  setStations(stations) {
    this.stations = stations;
    const xyz = new Float32Array(stations.length * 3);
    stations.forEach((s, i) => toScene(s.lat_deg, s.lon_deg, 0, xyz, 3 * i));
    this.stationGeometry.setAttribute("position", new this.THREE.BufferAttribute(xyz, 3));
    this.labels.replaceChildren(
      ...stations.map((s) => {
        const el = document.createElement("div");
        el.className = "station-label";
        el.textContent = s.name;
        return el;
      }),
    );
    this.invalidate();
  }

  setTrack(track) {
    const points = [];
    if (track) {
      const p = [0, 0, 0];
      for (let i = 0; i < track.lat_deg.length; i++) {
        if (track.lat_deg[i] === null) continue;
        toScene(track.lat_deg[i], track.lon_deg[i], 15, p, 0); // the ground track, on the surface
        points.push(p[0], p[1], p[2]);
      }
    }
    const geometry = new this.THREE.BufferGeometry();
    geometry.setAttribute("position", new this.THREE.Float32BufferAttribute(points, 3));
    this.trackLine.geometry.dispose();
    this.trackLine.geometry = geometry;
    this.invalidate();
  }

  setSelected(norad) {
    this.selected = norad;
    this.updateSelected();
  }

  updateSelected() {
    const i = this.positions && this.selected != null ? this.positions.frame.norad_id.indexOf(this.selected) : -1;
    this.selectedPoint.visible = i >= 0 && this.positions.frame.lat_deg[i] !== null;
    if (this.selectedPoint.visible) {
      const a = this.selectedGeometry.getAttribute("position");
      a.setXYZ(0, this.positions.xyz[3 * i], this.positions.xyz[3 * i + 1], this.positions.xyz[3 * i + 2]);
      a.needsUpdate = true;
    }
    this.invalidate();
  }

  /** Whether scene point p is in front of the Earth as seen from the camera. */
  visible(p) {
    const c = this.camera.position;
    const d = new this.THREE.Vector3(p[0] - c.x, p[1] - c.y, p[2] - c.z);
    const len = d.length();
    d.divideScalar(len);
    const b = c.x * d.x + c.y * d.y + c.z * d.z;
    const disc = b * b - (c.lengthSq() - 1);
    if (disc < 0) return true;
    const t = -b - Math.sqrt(disc);
    return t < 0 || t > len - 1e-4;
  }

  project(p) {
    const v = new this.THREE.Vector3(p[0], p[1], p[2]).project(this.camera);
    return [((v.x + 1) / 2) * this.canvas.clientWidth, ((1 - v.y) / 2) * this.canvas.clientHeight];
  }

  placeLabels() {
    const p = [0, 0, 0];
    this.stations.forEach((s, i) => {
      const el = this.labels.children[i];
      if (!el) return;
      toScene(s.lat_deg, s.lon_deg, 0, p, 0);
      const show = this.visible(p);
      el.style.display = show ? "" : "none";
      if (show) {
        const [x, y] = this.project(p);
        el.style.left = `${x}px`;
        el.style.top = `${y}px`;
      }
    });
  }

  pick(event) {
    if (!this.positions || !this.pickHandler) return;
    const rect = this.canvas.getBoundingClientRect();
    const mx = event.clientX - rect.left;
    const my = event.clientY - rect.top;
    const { frame, xyz } = this.positions;
    let best = -1;
    let bestD = 64; // px^2
    for (let i = 0; i < frame.norad_id.length; i++) {
      if (frame.lat_deg[i] === null || this.hiddenShells.has(frame.shell[i])) continue;
      const p = [xyz[3 * i], xyz[3 * i + 1], xyz[3 * i + 2]];
      const [x, y] = this.project(p);
      const d = (x - mx) ** 2 + (y - my) ** 2;
      if (d < bestD && this.visible(p)) {
        bestD = d;
        best = i;
      }
    }
    if (best >= 0) this.pickHandler(frame.norad_id[best]);
  }

  onPick(handler) {
    this.pickHandler = handler;
  }
}

class Map2D {
  constructor(canvas, labels) {
    this.kind = "2d";
    this.canvas = canvas;
    this.labels = labels;
    this.land = null;
    this.frame = null;
    this.stations = [];
    this.track = null;
    this.hiddenShells = new Set();
    this.pickHandler = null;
    canvas.addEventListener("click", (e) => this.pick(e));
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  geometry() {
    const w = this.canvas.clientWidth || 1;
    const h = this.canvas.clientHeight || 1;
    const mw = Math.min(w, 2 * h);
    return { w, h, x0: (w - mw) / 2, y0: (h - mw / 2) / 2, mw, mh: mw / 2 };
  }

  xy(lat, lon, g) {
    return [g.x0 + ((lon + 180) / 360) * g.mw, g.y0 + ((90 - lat) / 180) * g.mh];
  }

  draw() {
    const g = this.geometry();
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = g.w * dpr;
    this.canvas.height = g.h * dpr;
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.w, g.h);
    drawEarthMap(ctx, this.land, g.x0, g.y0, g.mw, g.mh);
    if (this.track) {
      ctx.strokeStyle = "#ffe08a";
      ctx.beginPath();
      let last = null;
      for (let i = 0; i < this.track.lat_deg.length; i++) {
        const lat = this.track.lat_deg[i];
        if (lat === null) { last = null; continue; }
        const [x, y] = this.xy(lat, this.track.lon_deg[i], g);
        if (last !== null && Math.abs(this.track.lon_deg[i] - last) < 180) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        last = this.track.lon_deg[i];
      }
      ctx.stroke();
    }
    if (this.frame) {
      const f = this.frame;
      for (let i = 0; i < f.norad_id.length; i++) {
        if (f.lat_deg[i] === null || this.hiddenShells.has(f.shell[i])) continue;
        const [x, y] = this.xy(f.lat_deg[i], f.lon_deg[i], g);
        ctx.fillStyle = shellColour(f.shell[i]);
        ctx.fillRect(x - 1, y - 1, 2.5, 2.5);
        if (f.norad_id[i] === this.selected) {
          ctx.strokeStyle = "#fff";
          ctx.strokeRect(x - 4, y - 4, 8, 8);
        }
      }
    }
    this.labels.replaceChildren(
      ...this.stations.map((s) => {
        const [x, y] = this.xy(s.lat_deg, s.lon_deg, g);
        ctx.fillStyle = "#ffd166";
        ctx.beginPath();
        ctx.arc(x, y, 4, 0, 2 * Math.PI);
        ctx.fill();
        const el = document.createElement("div");
        el.className = "station-label";
        el.textContent = s.name;
        el.style.left = `${x}px`;
        el.style.top = `${y}px`;
        return el;
      }),
    );
  }

  setLand(rings) { this.land = rings; this.draw(); }
  setTime() {}
  lookAt() {}
  setPositions(frame) { this.frame = frame; this.draw(); }
  setHiddenShells(hidden) { this.hiddenShells = hidden; this.draw(); }
  setStations(stations) { this.stations = stations; this.draw(); }
  setTrack(track) { this.track = track; this.draw(); }
  setSelected(norad) { this.selected = norad; this.draw(); }
  onPick(handler) { this.pickHandler = handler; }

  pick(event) {
    if (!this.frame || !this.pickHandler) return;
    const rect = this.canvas.getBoundingClientRect();
    const g = this.geometry();
    const f = this.frame;
    let best = -1;
    let bestD = 64;
    for (let i = 0; i < f.norad_id.length; i++) {
      if (f.lat_deg[i] === null) continue;
      const [x, y] = this.xy(f.lat_deg[i], f.lon_deg[i], g);
      const d = (x - (event.clientX - rect.left)) ** 2 + (y - (event.clientY - rect.top)) ** 2;
      if (d < bestD) { bestD = d; best = i; }
    }
    if (best >= 0) this.pickHandler(f.norad_id[best]);
  }
}

function webglAvailable() {
  try {
    const c = document.createElement("canvas");
    return Boolean(c.getContext("webgl2") || c.getContext("webgl"));
  } catch {
    return false;
  }
}

/** A Globe3D when three.js and WebGL are available, else a Map2D; and why not, if not. */
export async function createGlobe(canvas, labels) {
  if (!webglAvailable()) {
    return { globe: new Map2D(canvas, labels), note: "WebGL is not available: showing a flat map." };
  }
  try {
    const THREE = await import("../vendor/three/three.module.js");
    return { globe: new Globe3D(THREE, canvas, labels), note: null };
  } catch (err) {
    console.warn("three.js did not load", err);
    return {
      globe: new Map2D(canvas, labels),
      note: "three.js is not vendored (run console/frontend/fetch_vendor.sh): showing a flat map.",
    };
  }
}

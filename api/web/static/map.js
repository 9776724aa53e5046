// Dashboard map (Leaflet, served from /static/vendor): pan and zoom, zone outlines as the
// plain basemap (tiles only when PANTAU_TILE_URL is set), one label per zone with its worst
// ISPU (labels that would overlap are hidden, worst first), stations as shapes by kind and
// colours by scale, station labels from zoom 14 on. The device table below mirrors it.
"use strict";
(function () {
  const P = window.Pantau;
  const { t, el } = P;
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const REFRESH_MS = 30000;
  const LABEL_ZOOM = 14;
  const zoneNames = Object.fromEntries(config.zones.map((z) => [z.id, z.name.split(" (")[0]]));
  P.zoneNames = zoneNames;
  // on the map, the shortest name people use: "Jababeka", "MM2100", "Kali Bekasi"
  const shortName = (name) => name.split(" (")[0].split(" / ")[0].replace(/^Kawasan Industri /, "")
    .replace(/ Industrial (Town|Park)$/, "");
  const box = document.getElementById("map");
  const b = config.bounds;

  const map = L.map(box, { zoomSnap: 0.5, keyboard: true, attributionControl: Boolean(config.tile_url) });
  map.fitBounds([[b.lat_min, b.lon_min], [b.lat_max, b.lon_max]]);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { maxZoom: 18, attribution: config.tile_attribution || "" }).addTo(map);
  }
  // the plain basemap: each zone's outline (a 1.6 km circle around its centre)
  for (const z of config.zones) {
    L.circle([z.lat, z.lon], { radius: 1600, className: "zone-outline zone-" + z.category, interactive: false }).addTo(map);
  }
  const zoneLayer = L.layerGroup().addTo(map);
  const deviceLayer = L.layerGroup().addTo(map);
  let fitted = false;

  // Status class and words: ISPU for air, Siaga for water, traffic level, grey when offline.
  const LEVELLED = new Set(["air_quality", "water_level", "traffic"]);  // kinds with a scale

  function status(d) {
    const lv = d.level;
    if (!d.reporting) return { cls: "offline", text: t("status.offline"), short: t("status.off_short") };
    if (!lv && !LEVELLED.has(d.kind)) {  // rain, weather, …: reporting is all there is to show
      return { cls: "reporting", text: t("status.reporting"), short: "✓" };
    }
    if (!lv) return { cls: "nodata", text: t("status.nodata"), short: "—" };
    if (lv.type === "ispu") {
      return { cls: P.ispuClass(lv.category), short: String(lv.index),
        text: t("ispu.index") + " " + lv.index + " · " + t("ispu." + lv.category) };
    }
    if (lv.type === "flood") {
      return { cls: P.floodClass(lv.status), short: "S" + String(lv.status).slice(-1),
        text: t("flood." + lv.status) + " (" + P.num(lv.level_cm, 0) + " " + t("unit.cm") + ")" };
    }
    return { cls: "traffic-" + lv.level, text: t("traffic." + lv.level), short: t("traffic." + lv.level) };
  }
  P.deviceStatus = status;

  function worstPerZone(devices) {
    const worst = {};
    for (const d of devices) {
      if (!d.reporting || !d.level || d.level.type !== "ispu") continue;
      if (!worst[d.zone] || d.level.index > worst[d.zone].index) worst[d.zone] = d.level;
    }
    return worst;
  }

  function drawZones(devices) {
    const worst = worstPerZone(devices);
    zoneLayer.clearLayers();
    const ordered = config.zones.slice().sort((a, c) => ((worst[c.id] || {}).index || -1) - ((worst[a.id] || {}).index || -1));
    for (const z of ordered) {
      const w = worst[z.id];
      const html = '<span class="zone-inner"><span class="zone-name"></span>' +
        (w ? ' <span class="badge ' + P.ispuClass(w.category) + '"><span class="num"></span></span>' : "") + "</span>";
      const icon = L.divIcon({ className: "zone-label", html, iconSize: null });
      const marker = L.marker([z.lat, z.lon], { icon, interactive: false, keyboard: false, zIndexOffset: -1000 });
      marker.addTo(zoneLayer);
      const node = marker.getElement();
      node.dataset.zone = z.id;
      node.querySelector(".zone-name").textContent = shortName(z.name);
      if (w) {
        node.querySelector(".num").textContent = t("ispu.index") + " " + w.index;
        node.querySelector(".badge").title = t("ispu." + w.category);
      }
    }
    declutter();
  }

  // Labels never overlap: in order (worst ISPU first), a label that would cover one already
  // placed is hidden until the reader zooms in far enough for both.
  function declutter() {
    const placed = [];
    const labels = Array.from(box.querySelectorAll(".zone-label"));
    const stationLabels = map.getZoom() >= LABEL_ZOOM;
    box.classList.toggle("show-station-labels", stationLabels);
    const all = labels.concat(stationLabels ? Array.from(box.querySelectorAll(".dev-label")) : []);
    for (const node of all) {
      node.classList.remove("collides");
      const r = (node.querySelector(".zone-inner") || node).getBoundingClientRect();
      if (!r.width) continue;
      const hit = placed.some((p) => r.left < p.right && r.right > p.left && r.top < p.bottom && r.bottom > p.top);
      if (hit) node.classList.add("collides");
      else placed.push(r);
    }
  }
  map.on("zoomend moveend", declutter);

  function shape(kind) {
    if (kind === "water_level") return '<polygon class="marker" points="11,1 21,11 11,21 1,11"/>';
    if (kind === "traffic") return '<rect class="marker" x="3" y="3" width="16" height="16"/>';
    if (kind === "rain" || kind === "weather") return '<polygon class="marker" points="11,1 21,20 1,20"/>';
    return '<circle class="marker" cx="11" cy="11" r="9"/>';
  }
  P.markerShape = shape;

  function drawDevices(devices) {
    deviceLayer.clearLayers();
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.device : null;
    for (const d of devices) {
      const s = status(d);
      const label = d.id + ": " + t("kind." + d.kind) + ", " + s.text;
      const html = '<a class="' + s.cls + '"><svg viewBox="0 0 22 22" width="22" height="22" aria-hidden="true">' +
        shape(d.kind) + '</svg><span class="dev-label"></span></a>';
      const icon = L.divIcon({ className: "dev-icon", html, iconSize: [22, 22], iconAnchor: [11, 11] });
      const marker = L.marker([d.lat, d.lon], { icon, keyboard: false, riseOnHover: true }).addTo(deviceLayer);
      const link = marker.getElement().querySelector("a");
      link.href = "/dashboard/devices/" + encodeURIComponent(d.id);
      link.dataset.device = d.id;
      link.setAttribute("aria-label", label);
      link.title = label;
      link.querySelector(".dev-label").textContent = d.id + " · " + s.short;
      if (focused === d.id) link.focus({ preventScroll: true });
    }
    if (!fitted && devices.length) {
      const inside = devices.filter((d) => d.lat >= b.lat_min && d.lat <= b.lat_max && d.lon >= b.lon_min && d.lon <= b.lon_max);
      if (inside.length) map.fitBounds(inside.map((d) => [d.lat, d.lon]), { padding: [30, 30], maxZoom: 13 });
      fitted = true;
    }
    declutter();
  }

  function drawTable(devices) {
    const focused = document.activeElement && document.activeElement.closest("#device-rows")
      ? document.activeElement.closest("tr").dataset.device : null;
    const rows = devices.map(function (d) {
      const s = status(d);
      return el("tr", { "data-device": d.id },
        el("th", { scope: "row", "data-label": t("dash.device") }, el("a", { href: "/dashboard/devices/" + encodeURIComponent(d.id), text: d.id })),
        el("td", { "data-label": t("dash.kind"), text: t("kind." + d.kind) }),
        el("td", { "data-label": t("dash.zone"), text: zoneNames[d.zone] || d.zone }),
        el("td", { "data-label": t("dash.status") }, el("span", { class: "badge " + s.cls }, el("span", { class: "icon", "aria-hidden": "true" }), s.text)));
    });
    document.getElementById("device-rows").replaceChildren(...rows);
    if (focused) {
      const link = document.querySelector('#device-rows tr[data-device="' + CSS.escape(focused) + '"] a');
      if (link) link.focus({ preventScroll: true });
    }
  }

  async function refresh() {
    try {
      const data = await P.api("/dashboard/map.json");
      P.devices = Object.fromEntries(data.devices.map((d) => [d.id, d]));
      drawZones(data.devices);
      drawDevices(data.devices);
      drawTable(data.devices);
      document.getElementById("map-error").hidden = true;
      document.dispatchEvent(new CustomEvent("pantau:devices"));
    } catch (e) {
      const problem = document.getElementById("map-error");
      problem.textContent = t("dash.load_failed") + ": " + e.message;
      problem.hidden = false;
    }
  }

  window.addEventListener("resize", function () { map.invalidateSize(); declutter(); });
  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
  document.addEventListener("pantau:alerts", refresh);
})();

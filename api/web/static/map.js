// Dashboard map: sensors on an inline SVG (Web Mercator), coloured by status, with labels.
"use strict";
(function () {
  const P = window.Pantau;
  const { t, el, svg } = P;
  const config = JSON.parse(document.getElementById("map-config").textContent);
  const ZOOM = 12;
  const WORLD = 256 * Math.pow(2, ZOOM);
  const MARGIN = 0.012; // degrees around the devices
  const REFRESH_MS = 30000;
  const zoneNames = Object.fromEntries(config.zones.map((z) => [z.id, z.name.split(" (")[0]]));

  function project(lat, lon) {
    const x = (lon + 180) / 360 * WORLD;
    const s = Math.sin(lat * Math.PI / 180);
    const y = (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * WORLD;
    return [x, y];
  }

  // The frame fits the sensors (or, with none yet, every zone), widened to the panel's shape.
  function frame(devices) {
    const b = config.bounds;
    const inside = devices.filter((d) => d.lat >= b.lat_min && d.lat <= b.lat_max && d.lon >= b.lon_min && d.lon <= b.lon_max);
    const points = inside.length ? inside.map((d) => [d.lat, d.lon]) : config.zones.map((z) => [z.lat, z.lon]);
    const lats = points.map((p) => p[0]);
    const lons = points.map((p) => p[1]);
    let [x0, y0] = project(Math.max(...lats) + MARGIN, Math.min(...lons) - MARGIN);
    let [x1, y1] = project(Math.min(...lats) - MARGIN, Math.max(...lons) + MARGIN);
    x1 += Math.max(x1 - x0, 150) * 0.3; // room for the labels right of the markers
    const box = document.getElementById("map");
    const ratio = Math.max(1, Math.min(2, box.clientWidth / Math.max(1, window.innerHeight * 0.7)));
    let w = x1 - x0, h = y1 - y0;
    if (w / h < ratio) { x0 -= (h * ratio - w) / 2; w = h * ratio; }
    else { y0 -= (w / ratio - h) / 2; h = w / ratio; }
    return { x0, y0, w, h };
  }

  function tiles(f) {
    const group = svg("g", { class: "tiles", "aria-hidden": "true" });
    if (!config.tile_url) return group;
    for (let tx = Math.floor(f.x0 / 256); tx <= Math.floor((f.x0 + f.w) / 256); tx++) {
      for (let ty = Math.floor(f.y0 / 256); ty <= Math.floor((f.y0 + f.h) / 256); ty++) {
        const href = config.tile_url.replace("{z}", ZOOM).replace("{x}", tx).replace("{y}", ty);
        group.append(svg("image", { href, x: tx * 256, y: ty * 256, width: 256, height: 256 }));
      }
    }
    return group;
  }

  // Status class and words: ISPU for air, Siaga for water, traffic level, grey when offline.
  function status(d) {
    const lv = d.level;
    if (!d.reporting) return { cls: "offline", text: t("status.offline"), short: "off" };
    if (!lv) return { cls: "reporting", text: t("status.reporting"), short: "✓" };  // rain, weather, …
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

  function shape(kind, x, y) {
    const r = 9;
    if (kind === "water_level") {
      return svg("polygon", { class: "marker", points: [[x, y - r - 2], [x + r + 2, y], [x, y + r + 2], [x - r - 2, y]].join(" ") });
    }
    if (kind === "traffic") return svg("rect", { class: "marker", x: x - r, y: y - r, width: 2 * r, height: 2 * r });
    if (kind === "rain" || kind === "weather") {
      return svg("polygon", { class: "marker", points: [[x, y - r - 2], [x + r + 1, y + r], [x - r - 1, y + r]].join(" ") });
    }
    return svg("circle", { class: "marker", cx: x, cy: y, r });
  }

  function drawMap(devices) {
    const f = frame(devices);
    const scale = f.w / Math.max(320, document.getElementById("map").clientWidth); // map units per screen pixel
    const root = svg("svg", { viewBox: [f.x0, f.y0, f.w, f.h].join(" "), role: "img", "aria-labelledby": "map-h",
      preserveAspectRatio: "xMidYMid meet" });
    root.append(svg("rect", { x: f.x0, y: f.y0, width: f.w, height: f.h, fill: "#dfe8e2" }), tiles(f));
    const zones = svg("g", { class: "zones", "aria-hidden": "true" });
    for (const z of config.zones) {
      const [x, y] = project(z.lat, z.lon);
      zones.append(svg("circle", { class: "zone-dot", cx: x, cy: y, r: 28 * scale, "stroke-width": scale, "stroke-dasharray": 4 * scale + " " + 4 * scale }),
        svg("text", { class: "zone-label", x, y: y + 42 * scale, "text-anchor": "middle",
          "font-size": 12 * scale, "stroke-width": 3 * scale, text: z.name.split(" (")[0] }));
    }
    root.append(zones);
    const marks = svg("g", { class: "devices" });
    for (const d of devices) {
      const [x, y] = project(d.lat, d.lon);
      const s = status(d);
      const label = d.id + ": " + t("kind." + d.kind) + ", " + s.text;
      const g = svg("g", { transform: "translate(" + x + " " + y + ") scale(" + scale + ")" },
        shape(d.kind, 0, 0),
        svg("text", { class: "dev-label", x: 13, y: 4, text: d.id + " · " + s.short }));
      marks.append(svg("a", { href: "/dashboard/devices/" + encodeURIComponent(d.id), class: s.cls,
        "aria-label": label, "data-device": d.id }, svg("title", { text: label }), g));
    }
    root.append(marks);
    document.getElementById("map").replaceChildren(root);
  }

  function drawTable(devices) {
    const rows = devices.map(function (d) {
      const s = status(d);
      return el("tr", { "data-device": d.id },
        el("th", { scope: "row" }, el("a", { href: "/dashboard/devices/" + encodeURIComponent(d.id), text: d.id })),
        el("td", { text: t("kind." + d.kind) }),
        el("td", { text: zoneNames[d.zone] || d.zone }),
        el("td", {}, el("span", { class: "badge " + s.cls + (s.cls.startsWith("traffic") || s.cls === "offline" ? " plain" : "") },
          el("span", { class: "swatch " + s.cls, "aria-hidden": "true" }), s.text)));
    });
    document.getElementById("device-rows").replaceChildren(...rows);
  }

  let last = null;
  let resizing = 0;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { if (last) drawMap(last); }, 200);
  });

  async function refresh() {
    try {
      const data = await P.api("/dashboard/map.json");
      last = data.devices;
      drawMap(data.devices);
      drawTable(data.devices);
    } catch (e) {
      document.getElementById("map").replaceChildren(el("p", { class: "error", role: "alert", text: t("dash.load_failed") + ": " + e.message }));
    }
  }

  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
  document.addEventListener("pantau:alerts", refresh);
})();

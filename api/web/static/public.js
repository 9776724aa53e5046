// Public page: the numbers are already in the HTML; refresh them every minute.
"use strict";
(function () {
  const P = window.Pantau;
  const { t, el } = P;
  const REFRESH_MS = 60000;
  const zoneNames = JSON.parse(document.getElementById("zone-names").textContent);
  const name = (zone) => zoneNames[zone] || zone;
  const places = JSON.parse(document.getElementById("station-places").textContent);

  function zoneCard(z) {
    return el("li", { class: "card ispu-card " + P.ispuClass(z.category), "data-zone": z.zone, "data-category": z.category },
      el("h3", { text: name(z.zone) }),
      el("p", { class: "reading" }, P.ispuBadge(z.category, z.index)),
      el("p", { class: "advice", text: t("advice." + z.category) }),
      el("p", { class: "meta" }, t("public.dominant") + ": ", el("b", { text: z.dominant === "pm25" ? "PM2.5" : String(z.dominant).toUpperCase() }),
        " · " + t("public.hour") + " ", el("time", { class: "hour", datetime: z.time, text: P.hourRange(z.time) })));
  }

  function stationRow(s) {
    return el("tr", { "data-device": s.device, "data-status": s.status },
      el("th", { scope: "row" }, places[s.device] || s.device, el("br"),
        el("small", { text: name(s.zone) + (places[s.device] ? " · " + s.device : "") })),
      el("td", { "data-label": t("dash.status") }, P.floodBadge(s.status),
        s.rise_cm_per_h > 0 ? el("span", { class: "rise", text: " ↑ " + P.num(s.rise_cm_per_h, 0) + " " + t("unit.cm_per_h") }) : null),
      el("td", { class: "n", "data-label": t("public.level"), text: P.num(s.level_cm, 0) + " " + t("unit.cm") }),
      el("td", { "data-label": t("public.updated") }, el("time", { datetime: s.time, text: P.when(s.time) })));
  }

  // The open API's answers, shaped as the server-rendered page: worst zones first, Siaga 1 first.
  function view(ispu, flood) {
    const zones = ispu.zones.slice().sort((a, b) => b.index - a.index || a.zone.localeCompare(b.zone));
    const stations = flood.stations.filter((s) => s.siaga).sort((a, b) => a.siaga - b.siaga || (places[a.device] || a.device).localeCompare(places[b.device] || b.device));
    const times = zones.concat(stations).map((x) => x.time).sort();
    return { zones, stations, updated: times.length ? times[times.length - 1] : null };
  }

  function show(view) {
    document.getElementById("zones").replaceChildren(...view.zones.map(zoneCard));
    document.getElementById("no-ispu").hidden = view.zones.length > 0;
    document.getElementById("stations").replaceChildren(...view.stations.map(stationRow));
    document.querySelector("table.stations").hidden = view.stations.length === 0;
    document.getElementById("no-flood").hidden = view.stations.length > 0;
    const updated = document.getElementById("updated");
    if (view.updated) {
      updated.setAttribute("datetime", view.updated);
      updated.textContent = P.when(view.updated);
    }
  }

  async function refresh() {
    const problem = document.getElementById("refresh-error");
    try {
      const [ispu, flood] = await Promise.all([P.api("/api/v1/ispu"), P.api("/api/v1/flood")]);
      show(view(ispu, flood));
      problem.hidden = true;
    } catch (e) {
      problem.hidden = false;
    }
  }

  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
})();

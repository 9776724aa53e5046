// Live alert panel: the open and acknowledged alerts, kept current by the SSE stream.
"use strict";
(function () {
  const P = window.Pantau;
  const { t, el } = P;
  const list = document.getElementById("alerts");
  const state = document.getElementById("stream-state");
  const problem = document.getElementById("alerts-error");
  const announce = document.getElementById("announce");
  const alerts = new Map();
  const fresh = new Set();

  function setState(name) {
    state.dataset.state = name;
    state.textContent = name === "live" ? t("dash.live") : t("dash.reconnecting");
  }

  function fail(message) {
    problem.textContent = message;
    problem.hidden = !message;
  }

  async function act(alert, action, button) {
    // busy, but still focused: a disabled button would drop the focus to the page
    if (button.getAttribute("aria-disabled") === "true") return;
    button.setAttribute("aria-disabled", "true");
    fail("");
    try {
      // the answer is the transition; the alert itself (with its new status) is read back
      await P.api("/api/v1/alerts/" + alert.id + "/" + action, { method: "POST" });
      upsert(await P.api("/api/v1/alerts/" + alert.id));
      render({ alert: alert.id, action: action });
    } catch (e) {
      fail(e.message);
      button.removeAttribute("aria-disabled");
    }
  }

  const ISPU_BANDS = [[50, "Baik"], [100, "Sedang"], [200, "Tidak Sehat"], [300, "Sangat Tidak Sehat"], [Infinity, "Berbahaya"]];
  function ispuCategory(index) { return ISPU_BANDS.find((band) => index <= band[0])[1]; }
  // Siaga 4 (normal) .. 1 (bencana) of a level against the station's thresholds [S3, S2, S1]
  function siagaOf(cm, thresholds) {
    if (cm === null || cm === undefined || !thresholds) return null;
    let level = 4;
    thresholds.forEach((limit, i) => { if (cm >= limit) level = 3 - i; });
    return level;
  }
  // seconds as the unit a person reads: 45 detik, 12 menit, 3 jam, 2 hari
  function duration(seconds) {
    if (seconds < 120) return P.num(seconds, 0) + " " + t("unit.seconds");
    if (seconds < 7200) return P.num(seconds / 60, 0) + " " + t("unit.minutes");
    if (seconds < 172800) return P.num(seconds / 3600, 0) + " " + t("unit.hours");
    return P.num(seconds / 86400, 0) + " " + t("unit.days");
  }
  function zoneName(zone) { return (P.zoneNames && P.zoneNames[zone]) || zone; }
  function metricLabel(metric) {
    const key = "metric." + metric;
    return t(key) !== key ? t(key) : metric;
  }
  function unitOf(metric) {
    const key = "unit." + metric;
    return t(key) !== key ? " " + t(key) : "";
  }

  // What the card says: the rule kind with its level (Siaga number and meaning, ISPU
  // category), the station and its zone; then the value at opening and now, with units.
  function describe(a) {
    const device = P.devices ? P.devices[a.device] : null;
    const where = a.device + " (" + zoneName(a.zone) + ")";
    const kind = "alertkind." + a.rule_kind;
    let title = (t(kind) !== kind ? t(kind) : a.title || a.rule_id) + " — " + where;
    let opened = null, now = null;
    if (a.rule_kind === "flood_status" || a.rule_kind === "flood_rise") {
      const thresholds = device ? device.siaga : null;
      const atOpen = siagaOf(a.value, thresholds);
      const current = device && device.level && device.level.type === "flood" ? device.level : null;
      if (a.rule_kind === "flood_status" && atOpen) {
        title = t("flood.SIAGA " + atOpen) + " — " + where;
      }
      opened = a.rule_kind === "flood_rise"
        ? "↑ " + P.num(a.value, 0) + " " + t("unit.cm_per_h")
        : P.num(a.value, 0) + " " + t("unit.cm") + (atOpen ? " (Siaga " + atOpen + ")" : "");
      if (current) now = P.num(current.level_cm, 0) + " " + t("unit.cm") + " (" + t("flood." + current.status) + ")";
    } else if (a.rule_kind === "ispu") {
      if (a.value !== null && a.value !== undefined) {
        const category = ispuCategory(a.value);
        title = t("alertkind.ispu") + ": " + t("ispu." + category) + " — " + where;
        opened = t("ispu.index") + " " + P.num(a.value, 0) + " (" + t("ispu." + category) + ")";
      }
      const current = device && device.level && device.level.type === "ispu" ? device.level : null;
      if (current) now = t("ispu.index") + " " + current.index + " (" + t("ispu." + current.category) + ")";
    } else if (a.rule_kind === "offline" || a.rule_kind === "stale") {
      if (a.value !== null && a.value !== undefined) opened = t("dash.silent_for") + " " + duration(a.value);
      if (device) now = device.reporting ? t("device.reporting") : t("device.not_reporting");
    } else if (a.value !== null && a.value !== undefined) {
      opened = (a.metric ? metricLabel(a.metric) + " " : "") + P.num(a.value, 1) + unitOf(a.metric);
    }
    return { title, opened, now };
  }

  function card(a) {
    const d = describe(a);
    const actions = el("div", { class: "actions" });
    if (a.status === "open") {
      const ack = el("button", { type: "button", class: "primary", "data-action": "ack",
        "aria-label": t("dash.ack") + ": " + d.title, text: t("dash.ack") });
      ack.addEventListener("click", () => act(a, "ack", ack));
      actions.append(ack);
    }
    const resolve = el("button", { type: "button", "data-action": "resolve",
      "aria-label": t("dash.resolve") + ": " + d.title, text: t("dash.resolve") });
    resolve.addEventListener("click", () => act(a, "resolve", resolve));
    actions.append(resolve);
    return el("li", { class: "alert sev-" + a.severity + (fresh.has(a.id) ? " fresh" : ""),
      "data-alert": a.id, "data-status": a.status },
      el("h3", {},
        el("span", { class: "tag", text: t("severity." + a.severity) }),
        el("span", { class: "tag", text: t("alert." + a.status) }),
        a.flapping ? el("span", { class: "tag", text: t("alert.flapping") }) : null,
        el("a", { href: "/dashboard/devices/" + encodeURIComponent(a.device), title: a.title, text: d.title })),
      el("p", { class: "meta" },
        t("dash.opened") + " ", el("time", { datetime: a.opened_at, text: P.when(a.opened_at) }),
        d.opened ? " · " + t("dash.at_open") + ": " + d.opened : "",
        a.acknowledged_by ? " · " + t("dash.acked_by") + " " + a.acknowledged_by : ""),
      d.now ? el("p", { class: "now" }, el("b", { text: t("dash.now") + ": " }), d.now) : null,
      actions);
  }

  function upsert(a) {
    if (a.status === "resolved") alerts.delete(a.id);
    else alerts.set(a.id, a);
  }

  // Focus stays where the reader was: on the same button of the same alert, on the next
  // alert's first button when that one left, else on the panel's heading.
  function focusState() {
    const active = document.activeElement;
    const item = active && active.closest ? active.closest("li.alert") : null;
    if (!item) return null;
    return { alert: Number(item.dataset.alert), action: active.dataset.action || null,
      index: Array.from(list.children).indexOf(item) };
  }

  function restore(state, action) {
    if (!state) return;
    const item = list.querySelector('li.alert[data-alert="' + state.alert + '"]');
    let target = null;
    if (item) {
      target = item.querySelector('button[data-action="' + (action === "ack" ? "resolve" : state.action) + '"]') ||
        item.querySelector("button, a");
    } else {
      const next = list.children[Math.max(0, Math.min(state.index, list.children.length - 1))];
      target = next ? next.querySelector("button") : document.getElementById("alerts-h");
    }
    if (target && target !== document.activeElement) target.focus({ preventScroll: false });
  }

  function render(after) {
    let state = focusState();
    if (after && (!state || state.alert === after.alert)) {
      const index = Array.from(list.children).findIndex((li) => Number(li.dataset.alert) === after.alert);
      state = { alert: after.alert, action: after.action, index: index >= 0 ? index : (state ? state.index : 0) };
    } else if (after) {
      after = null; // the focus already moved on (a live update came first): keep it there
    }
    const order = { critical: 0, major: 1, warning: 2, info: 3 };
    const items = Array.from(alerts.values()).sort((x, y) =>
      (x.status === "open" ? 0 : 1) - (y.status === "open" ? 0 : 1) ||
      (order[x.severity] ?? 9) - (order[y.severity] ?? 9) || y.id - x.id);
    list.replaceChildren(...items.map(card));
    document.getElementById("no-alerts").hidden = items.length > 0;
    document.getElementById("alert-count").textContent = String(items.filter((a) => a.status === "open").length);
    fresh.clear();
    restore(state, after ? after.action : null);
  }

  async function load() {
    try {
      const [open, acked] = await Promise.all([
        P.api("/api/v1/alerts?status=open"), P.api("/api/v1/alerts?status=acknowledged")]);
      alerts.clear();
      open.concat(acked).forEach(upsert);
      render();
      fail("");
    } catch (e) {
      fail(t("dash.load_failed") + ": " + e.message);
    }
  }

  function connect() {
    const source = new EventSource("/api/v1/alerts/stream");
    source.addEventListener("open", function () { setState("live"); load(); });
    source.addEventListener("error", function () {
      setState("down");
      // Transient failures reconnect by themselves; a refused stream (e.g. the key was
      // revoked: load() then sends the browser to the login page) is retried by hand.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(function () { load(); connect(); }, 5000);
      }
    });
    source.addEventListener("alert", function (event) {
      const data = JSON.parse(event.data);
      const a = data.alert;
      if (data.transition && data.transition.action === "open") {
        fresh.add(a.id);
        announce.textContent = t("dash.new_alert") + ": " + describe(a).title;
      }
      upsert(a);
      render();
      document.dispatchEvent(new CustomEvent("pantau:alerts"));
    });
  }

  document.addEventListener("pantau:devices", function () { render(); });
  setState("down");
  load();
  connect();
})();

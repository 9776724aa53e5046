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
    button.disabled = true;
    fail("");
    try {
      // the answer is the transition; the alert itself (with its new status) is read back
      await P.api("/api/v1/alerts/" + alert.id + "/" + action, { method: "POST" });
      upsert(await P.api("/api/v1/alerts/" + alert.id));
      render();
      const next = list.querySelector("button:not([disabled])");
      if (next && document.activeElement === document.body) next.focus();
    } catch (e) {
      fail(e.message);
      button.disabled = false;
    }
  }

  // The value that raised the alert, with what it measures.
  function value(a) {
    if (a.rule_kind === "ispu") return t("ispu.index") + " " + P.num(a.value, 0);
    if (a.rule_kind === "flood_status") return P.num(a.value, 0) + " " + t("unit.cm");
    if (a.rule_kind === "flood_rise") return "↑ " + P.num(a.value, 0) + " " + t("unit.cm_per_h");
    return P.num(a.value, 1) + (a.metric ? " (" + a.metric + ")" : "");
  }

  function card(a) {
    // The rule kind in the reader's language; the rule's own name stays as a tooltip.
    const kind = "alertkind." + a.rule_kind;
    const label = (t(kind) !== kind ? t(kind) + " — " + a.device + " (" + a.zone + ")" : a.title || a.rule_id);
    const actions = el("div", { class: "actions" });
    if (a.status === "open") {
      const ack = el("button", { type: "button", class: "primary", "data-action": "ack",
        "aria-label": t("dash.ack") + ": " + label, text: t("dash.ack") });
      ack.addEventListener("click", () => act(a, "ack", ack));
      actions.append(ack);
    }
    const resolve = el("button", { type: "button", "data-action": "resolve",
      "aria-label": t("dash.resolve") + ": " + label, text: t("dash.resolve") });
    resolve.addEventListener("click", () => act(a, "resolve", resolve));
    actions.append(resolve);
    return el("li", { class: "alert sev-" + a.severity + (fresh.has(a.id) ? " fresh" : ""),
      "data-alert": a.id, "data-status": a.status },
      el("h3", {},
        el("span", { class: "tag", text: t("severity." + a.severity) }),
        el("span", { class: "tag", text: t("alert." + a.status) }),
        el("a", { href: "/dashboard/devices/" + encodeURIComponent(a.device), title: a.title, text: label }),
        a.flapping ? el("span", { class: "tag", text: t("alert.flapping") }) : null),
      el("p", { class: "meta" },
        t("dash.opened") + " ", el("time", { datetime: a.opened_at, text: P.when(a.opened_at) }),
        a.value !== null && a.value !== undefined ? " · " + value(a) : "",
        a.acknowledged_by ? " · " + t("dash.acked_by") + " " + a.acknowledged_by : ""),
      actions);
  }

  function upsert(a) {
    if (a.status === "resolved") alerts.delete(a.id);
    else alerts.set(a.id, a);
  }

  function render() {
    const order = { critical: 0, major: 1, warning: 2, info: 3 };
    const items = Array.from(alerts.values()).sort((x, y) =>
      (x.status === "open" ? 0 : 1) - (y.status === "open" ? 0 : 1) ||
      (order[x.severity] ?? 9) - (order[y.severity] ?? 9) || y.id - x.id);
    list.replaceChildren(...items.map(card));
    document.getElementById("no-alerts").hidden = items.length > 0;
    document.getElementById("alert-count").textContent = String(items.filter((a) => a.status === "open").length);
    fresh.clear();
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
        const kind = "alertkind." + a.rule_kind;
        announce.textContent = t("dash.new_alert") + ": " + (t(kind) !== kind ? t(kind) : a.title) + " — " + a.device;
      }
      upsert(a);
      render();
      document.dispatchEvent(new CustomEvent("pantau:alerts"));
    });
  }

  setState("down");
  load();
  connect();
})();

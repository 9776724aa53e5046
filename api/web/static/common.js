// Pantau: shared helpers for every page (strings, WIB dates, numbers, API calls, DOM building).
"use strict";
(function () {
  const strings = JSON.parse(document.getElementById("strings").textContent);
  const lang = document.documentElement.lang === "en" ? "en" : "id";
  const locale = lang === "en" ? "en-GB" : "id-ID";
  const dateFmt = new Intl.DateTimeFormat(locale, {
    timeZone: "Asia/Jakarta", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const shortFmt = new Intl.DateTimeFormat(locale, {
    timeZone: "Asia/Jakarta", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const SVG_NS = "http://www.w3.org/2000/svg";
  let P_fieldLabels = {};

  function t(key) {
    return Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  }
  function when(value) {
    if (value === null || value === undefined || value === "") return "—";
    return dateFmt.format(new Date(value)) + " WIB";
  }
  function shortWhen(value) {
    return shortFmt.format(new Date(value));
  }
  const hourFmt = new Intl.DateTimeFormat(locale, { timeZone: "Asia/Jakarta", hour: "2-digit", minute: "2-digit", hour12: false });
  // an hourly value's hour as the span it covers: "22 Nov 2026 20.00–21.00 WIB"
  function hourRange(value) {
    const start = new Date(value);
    return dateFmt.format(start) + "–" + hourFmt.format(new Date(start.getTime() + 3600000)) + " WIB";
  }
  function num(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    const d = digits || 0;
    return new Intl.NumberFormat(locale, { minimumFractionDigits: d, maximumFractionDigits: d }).format(value);
  }

  class ApiError extends Error {
    constructor(status, message, field) {
      super(message);
      this.status = status;
      this.field = field;
    }
  }

  // Server errors in the reader's language: the error's code (and the field it names) say
  // what went wrong; the server's own words (English) are added only on the English page.
  function errorText(status, code, field, problem, serverMessage) {
    const key = "error.code." + (code || "");
    let message = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : t("error.generic") + " (HTTP " + status + ")";
    const typeKey = problem && problem.type ? "error.type." + problem.type : "";
    if (typeKey && Object.prototype.hasOwnProperty.call(strings, typeKey)) message = strings[typeKey];
    if (field) message = (P_fieldLabels[field] || field) + ": " + message;
    if (lang === "en" && serverMessage) message += " (" + serverMessage + ")";
    return message;
  }

  // Calls the API with the login cookie; errors come in the reader's language.
  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["Content-Type"] = "application/json";
      delete opts.json;
    }
    const response = await fetch(path, opts);
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!response.ok) {
      const err = body && body.error ? body.error : {};
      const problem = err.problems && err.problems.length ? err.problems[0] : null;
      const field = err.field || (problem ? problem.field : undefined);
      if (response.status === 401) { window.location.href = "/login?next=" + encodeURIComponent(location.pathname); }
      throw new ApiError(response.status, errorText(response.status, err.code, field, problem, err.message), field);
    }
    return body;
  }

  function build(node, attrs, children) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  function el(tag, attrs, ...children) { return build(document.createElement(tag), attrs, children); }
  function svg(tag, attrs, ...children) { return build(document.createElementNS(SVG_NS, tag), attrs, children); }

  function slug(text) { return String(text).toLowerCase().replace(/\s+/g, "-"); }
  function ispuClass(category) { return "ispu-" + slug(category); }
  function floodClass(status) { return "flood-" + String(status).slice(-1); }

  // Colour is never the only signal: a badge has an icon, the number and the words.
  function ispuBadge(category, index) {
    return el("span", { class: "badge " + ispuClass(category) },
      el("span", { class: "icon", "aria-hidden": "true" }),
      el("span", { class: "num", text: String(index) }), " ",
      el("span", { class: "cat", text: t("ispu." + category) }));
  }
  function floodBadge(status) {
    return el("span", { class: "badge " + floodClass(status) },
      el("span", { class: "icon", "aria-hidden": "true" }), t("flood." + status));
  }

  function localiseTimes(root) {
    for (const node of (root || document).querySelectorAll("time[datetime]")) {
      const value = node.getAttribute("datetime");
      if (value) node.textContent = node.classList.contains("hour") ? hourRange(value) : when(value);
    }
  }

  // The server keeps the language in a cookie; remember it here too for offline reloads.
  for (const link of document.querySelectorAll(".lang a[data-lang]")) {
    link.addEventListener("click", function () {
      try { localStorage.setItem("pantau_lang", link.dataset.lang); } catch (e) { /* private mode */ }
    });
  }
  localiseTimes(document);

  window.Pantau = {
    t, lang, locale, when, shortWhen, hourRange, num, api, ApiError, el, svg, ispuClass, floodClass,
    ispuBadge, floodBadge, localiseTimes,
    setFieldLabels: function (labels) { P_fieldLabels = labels; },
  };
})();

// Aerie's little script: copy buttons, snippet tabs, the graph's hover readout and the
// sign-up form's time zone. No libraries, no CDN.
"use strict";

function copyButtons() {
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const code = button.parentElement.querySelector("pre, .secret");
      await navigator.clipboard.writeText(code.innerText.trim());
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = "Copy"; }, 1500);
    });
  });
}

function tabs() {
  document.querySelectorAll("[data-tabs]").forEach((box) => {
    box.querySelectorAll("[data-tab]").forEach((tab) => {
      tab.addEventListener("click", (event) => {
        event.preventDefault();
        box.querySelectorAll("[data-tab]").forEach((t) => t.classList.toggle("current", t === tab));
        box.querySelectorAll("[data-panel]").forEach((panel) => {
          panel.hidden = panel.dataset.panel !== tab.dataset.tab;
        });
      });
    });
  });
}

// The same rule as aerie/numbers.py's compact_number, so hover and page agree.
function formatValue(value, unit) {
  if (value === null) return "no data";
  const short = (size) => {
    if (size < 0.01) return String(Number(size.toPrecision(2)));
    const text = size.toFixed(size >= 100 ? 0 : size >= 10 ? 1 : 2);
    return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  };
  const sign = value < 0 ? "−" : "";
  const size = Math.abs(value);
  let text = sign + short(size);
  for (const [scale, suffix] of [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
    if (size >= scale) { text = sign + short(size / scale) + suffix; break; }
  }
  return unit ? `${text} ${unit}` : text;
}

// Map the mouse's x over the image to the nearest interval, using the plot area (fractions
// of the image) and the frame's first and end times. One stat carries data-points and
// data-unit; compared stats and dashboard cards carry data-series, one read-out each.
function hoverGraph(box) {
  const img = box.querySelector("img");
  const tip = box.querySelector(".tip");
  const cursor = box.querySelector(".cursor");
  const first = Number(box.dataset.first);
  const end = Number(box.dataset.end);
  const series = box.dataset.series ? JSON.parse(box.dataset.series)
    : [{ name: "", unit: box.dataset.unit, points: JSON.parse(box.dataset.points) }];
  const points = series[0].points;
  const when = new Intl.DateTimeFormat(undefined, {
    timeZone: box.dataset.timezone, weekday: "short", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit",
  });
  const step = points.length > 1 ? points[1][0] - points[0][0] : end - first;
  const hide = () => { tip.style.display = "none"; cursor.style.display = "none"; };
  img.addEventListener("mouseleave", hide);
  img.addEventListener("mousemove", (event) => {
    const box_ = img.getBoundingClientRect();
    const [x0, y0, x1, y1] = JSON.parse(box.dataset.plotArea);  // resized graphs change it
    const fx = (event.clientX - box_.left) / box_.width;
    if (fx < x0 || fx > x1 || !points.length) { hide(); return; }
    const t = first + ((fx - x0) / (x1 - x0)) * (end - first);
    let index = 0;
    points.forEach((p, i) => {
      if (Math.abs(p[0] + step / 2 - t) < Math.abs(points[index][0] + step / 2 - t)) index = i;
    });
    const at = points[index][0];
    const px = (x0 + ((at + step / 2 - first) / (end - first)) * (x1 - x0)) * box_.width;
    const values = series.map((s) => {
      const value = formatValue(s.points[index] ? s.points[index][1] : null, s.unit);
      return s.name ? `${s.name}: ${value}` : value;
    });
    tip.textContent = `${when.format(new Date(at * 1000))} · ${values.join(" · ")}`;
    const half = tip.offsetWidth / 2;  // kept inside the graph, never past the page's edge
    tip.style.left = `${Math.min(Math.max(px, half), box_.width - half)}px`;
    tip.style.top = `${y0 * box_.height}px`;
    cursor.style.left = `${px}px`;
    cursor.style.top = `${y0 * box_.height}px`;
    cursor.style.height = `${(y1 - y0) * box_.height}px`;
    tip.style.display = "block";
    cursor.style.display = "block";
  });
}

function graphHover() {
  document.querySelectorAll("[data-graph]").forEach(hoverGraph);
}

// On narrow screens the sections hide behind the Menu button (static/aerie.css).
function menuButton() {
  document.querySelectorAll("[data-menu]").forEach((button) => {
    const bar = button.closest(".topbar");
    button.addEventListener("click", () => {
      const open = bar.classList.toggle("open");
      button.setAttribute("aria-expanded", String(open));
    });
  });
}

// Graph images fill their box: drawn at its width (CSS pixels, in steps of 10), a 2x
// image for dense screens, dark on a dark page. The graph server's margins are fixed
// pixels, so the plot area (for hovering and for marks laid over the image) is worked
// out again for the new size.
const GRAPH_STEP = 10;
const GRAPH_MIN = { width: 240, height: 200 };

function darkMode() {
  return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
}

function sizeGraph(img) {
  const layout = { width: Number(img.dataset.width), height: Number(img.dataset.height) };
  const room = img.parentElement.clientWidth || layout.width;
  const width = Math.min(2000, Math.max(GRAPH_MIN.width, Math.floor(room / GRAPH_STEP) * GRAPH_STEP));
  const height = Math.round(Math.min(layout.height,
    Math.max(GRAPH_MIN.height, (width * layout.height) / layout.width)));
  const url = new URL(img.dataset.src, window.location.href);
  url.searchParams.set("w", width);
  url.searchParams.set("h", height);
  if (darkMode()) url.searchParams.set("theme", "dark");
  if (img.dataset.refreshed) url.searchParams.set("r", img.dataset.refreshed);
  const dense = new URL(url);
  dense.searchParams.set("scale", "2");
  const src = url.pathname + url.search;
  if (img.getAttribute("src") === src) return;
  img.width = width;
  img.height = height;
  img.srcset = `${dense.pathname}${dense.search} 2x`;
  img.src = src;
  const box = img.closest("[data-plot-area]");
  if (!box) return;
  if (!box.dataset.margins) {
    const [x0, y0, x1, y1] = JSON.parse(box.dataset.plotArea);
    box.dataset.margins = JSON.stringify([x0 * layout.width, y0 * layout.height,
      (1 - x1) * layout.width, (1 - y1) * layout.height]);
  }
  const [left, top, right, bottom] = JSON.parse(box.dataset.margins);
  const area = [left / width, top / height, 1 - right / width, 1 - bottom / height];
  box.dataset.plotArea = JSON.stringify(area);
  const first = Number(box.dataset.first);
  const end = Number(box.dataset.end);
  box.querySelectorAll("[data-at]").forEach((mark) => {
    const share = Math.min(1, Math.max(0, (Number(mark.dataset.at) - first) / Math.max(1, end - first)));
    mark.style.left = `${100 * (area[0] + share * (area[2] - area[0]))}%`;
  });
}

function sizedGraphs() {
  const all = () => document.querySelectorAll("img[data-sized]").forEach(sizeGraph);
  all();
  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(all, 250);
  });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", all);
  }
}

// The alert form shows the fields of the kind chosen, and hides (and stops sending)
// the others: a data alert has no threshold, a value alert no percentage.
function alertKinds() {
  document.querySelectorAll("[data-alert-rule]").forEach((rule) => {
    const kind = rule.querySelector("[data-alert-kind]");
    const show = () => {
      rule.querySelectorAll("[data-kinds]").forEach((field) => {
        const fits = field.dataset.kinds.split(" ").includes(kind.value);
        field.hidden = !fits;
        field.querySelectorAll("input, select").forEach((input) => { input.disabled = !fits; });
        if (field.tagName === "OPTION") field.disabled = !fits;
      });
      const operator = rule.querySelector("select[name=operator]");
      if (operator && operator.selectedOptions[0] && operator.selectedOptions[0].disabled) {
        operator.value = "greater than";
      }
    };
    kind.addEventListener("change", show);
    show();
  });
}

// A dashboard in view mode fetches itself again every minute while the tab is visible,
// and once more on coming back after a minute away, replacing its cards in place.
function dashboardRefresh() {
  const cards = document.querySelector("[data-refresh]");
  if (!cards) return;
  const every = Number(cards.dataset.refresh) * 1000;
  let last = Date.now();
  const refresh = async () => {
    last = Date.now();
    const answer = await fetch(window.location.href, { headers: { accept: "text/html" } });
    if (!answer.ok) return;
    const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
    const replacement = fresh.querySelector("[data-refresh]");
    if (!replacement) return;
    cards.innerHTML = replacement.innerHTML;
    cards.querySelectorAll("img[data-sized]").forEach((img) => {
      img.dataset.refreshed = String(last);
      sizeGraph(img);
    });
    cards.querySelectorAll("[data-graph]").forEach(hoverGraph);
    document.body.dataset.refreshedAt = String(last);
  };
  setInterval(() => { if (document.visibilityState === "visible") refresh(); }, every);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && Date.now() - last >= every) refresh();
  });
}

function browserTimezone() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  document.querySelectorAll("select[data-browser-timezone]").forEach((select) => {
    if (zone && [...select.options].some((o) => o.value === zone)) select.value = zone;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  menuButton();
  sizedGraphs();
  alertKinds();
  dashboardRefresh();
  copyButtons();
  tabs();
  graphHover();
  browserTimezone();
});

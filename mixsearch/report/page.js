// Plots each section's figures; sorts and filters the runs table; on the dashboard, fetches the
// sections again whenever the study's files change (runs landed, a new fit or answer).
"use strict";

function plotFigures(root) {
  root.querySelectorAll("div.fig").forEach((el) => {
    const spec = JSON.parse(el.dataset.fig);
    Plotly.newPlot(el, spec.data, spec.layout, { responsive: true, displaylogo: false });
  });
}

function sortBy(th) {
  const table = th.closest("table");
  const col = Array.from(th.parentNode.children).indexOf(th);
  const up = th.dataset.order !== "asc";
  th.parentNode.querySelectorAll("th").forEach((h) => delete h.dataset.order);
  th.dataset.order = up ? "asc" : "desc";
  const body = table.tBodies[0];
  const key = (tr) => tr.children[col].textContent;
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
    const c = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
    return up ? c : -c;
  });
  rows.forEach((r) => body.appendChild(r));
}

function filterRows(input) {
  const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
  const table = document.getElementById(input.dataset.table);
  Array.from(table.tBodies[0].rows).forEach((tr) => {
    const text = tr.textContent.toLowerCase();
    tr.style.display = words.every((w) => text.includes(w)) ? "" : "none";
  });
}

document.addEventListener("click", (e) => {
  const th = e.target.closest("table.sortable th");
  if (th) sortBy(th);
});
document.addEventListener("input", (e) => {
  if (e.target.classList.contains("filter")) filterRows(e.target);
});

function showSections(doc) {
  const main = document.querySelector("main");
  const filters = {};
  main.querySelectorAll("input.filter").forEach((i) => { filters[i.dataset.table] = i.value; });
  const sorted = Array.from(main.querySelectorAll("table.sortable th[data-order]")).map((th) => [
    th.closest("table").id, Array.from(th.parentNode.children).indexOf(th), th.dataset.order]);
  main.querySelectorAll("section").forEach((s) => s.remove());
  doc.sections.forEach((s) => {
    const sec = document.createElement("section");
    sec.id = s.key;
    const h = document.createElement("h2");
    h.textContent = s.title;
    sec.appendChild(h);
    sec.insertAdjacentHTML("beforeend", s.html);
    main.appendChild(sec);
  });
  main.querySelectorAll("input.filter").forEach((i) => {
    if (filters[i.dataset.table]) { i.value = filters[i.dataset.table]; filterRows(i); }
  });
  sorted.forEach(([id, col, order]) => {
    const th = document.querySelector(`#${id} th:nth-child(${col + 1})`);
    if (th) { sortBy(th); if (order === "desc") sortBy(th); }
  });
  plotFigures(main);
  document.body.dataset.live = doc.fingerprint;
}

let polling = false;  // one request at a time: a rebuild on a large study can outlast the interval

async function poll() {
  if (polling) return;
  polling = true;
  try {
    const res = await fetch("api/sections?since=" + encodeURIComponent(document.body.dataset.live));
    if (res.status === 200) showSections(await res.json());
  } catch (err) {
    // the dashboard stopped or the network dropped: try again at the next tick
  } finally {
    polling = false;
  }
}

plotFigures(document);
if (document.body.dataset.live) setInterval(poll, 2000);

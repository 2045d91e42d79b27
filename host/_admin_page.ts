/**
 * The admin page (`GET /` of the admin listener): one self-contained HTML
 * file. It draws `/graph.svg` (Graphviz's drawing of the running graph, whose
 * nodes and edges carry the ids of `/graph.json`), writes the counters of
 * `/events` (server-sent, every second) into the drawing and its tables, and
 * shows a node's servlet, arguments, ports and recent errors when it is
 * clicked. Not API.
 * @module
 */

const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #fff; }
  header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1em;
    background: #24292f; color: #fff; }
  header h1 { font-size: 1.2em; margin: 0; }
  #status { margin-left: auto; font-size: .9em; }
  #status.live::before { content: "\\25CF  "; color: #3fb950; }
  #graph { margin: 1em; overflow: auto; border: 1px solid #d0d7de; border-radius: 6px;
    padding: .5em; }
  #graph svg { width: 100%; height: auto; }
  main { display: flex; gap: 1em; padding: 0 1em; align-items: flex-start; flex-wrap: wrap; }
  #graph g.node { cursor: pointer; }
  #graph g.node path, #graph g.node polygon { fill: #f6f8fa; }
  #graph g.node.failing path, #graph g.node.failing polygon { fill: #ffebe9; stroke: #cf222e; }
  #graph g.node.selected path, #graph g.node.selected polygon { stroke: #0969da; stroke-width: 3; }
  #graph g.node.busy path, #graph g.node.busy polygon { fill: #dafbe1; }
  #graph text.live { fill: #0969da; font-family: ui-monospace, monospace; font-size: 11px; }
  aside { flex: 1; min-width: 20em; border: 1px solid #d0d7de; border-radius: 6px; padding: .5em 1em; }
  aside h2 { font-size: 1.1em; margin: .3em 0; }
  aside code { background: #f6f8fa; padding: 0 .2em; }
  aside .error { color: #cf222e; font-family: ui-monospace, monospace; font-size: 12px; }
  section { padding: 0 0 1em; }
  h2 { font-size: 1em; margin: .5em 0; }
  table { border-collapse: collapse; }
  th, td { padding: .2em .8em; border-bottom: 1px solid #d0d7de; text-align: right; }
  th:first-child, td:first-child, td.servlet, td.url { text-align: left; }
  tr[data-node] { cursor: pointer; }
  footer { padding: .5em 1em; color: #656d76; font-size: .9em; }
`;

const SCRIPT = String.raw`
"use strict";
const $ = (id) => document.getElementById(id);
let view = null;
let live = null;
let updates = 0;
let selected = null;

function rate(r) {
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}
function seconds(s) {
  if (s === null || s === undefined) return "-";
  if (s < 0.001) return (s * 1e6).toFixed(0) + " µs";
  if (s < 1) return (s * 1000).toFixed(1) + " ms";
  return s.toFixed(2) + " s";
}
function bytes(n) {
  if (n < 1024) return n.toFixed(0) + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}
function cell(row, name, text) {
  let td = row.querySelector("." + name);
  if (td === null) {
    td = document.createElement("td");
    td.className = name;
    row.appendChild(td);
  }
  td.textContent = text;
}
function liveText(group) {
  const texts = group.querySelectorAll("text");
  const last = texts[texts.length - 1];
  if (last) last.classList.add("live");
  return last;
}

async function loadGraph() {
  view = await (await fetch("/graph.json")).json();
  const svg = await (await fetch("/graph.svg")).text();
  $("graph").innerHTML = svg.slice(svg.indexOf("<svg"));
  $("file").textContent = view.file;
  $("generation").textContent = "graph " + view.generation;
  $("nodes").tBodies[0].replaceChildren();
  $("edges").tBodies[0].replaceChildren();
  view.nodes.forEach((node, i) => {
    const group = $("n" + i);
    if (group !== null) group.addEventListener("click", () => select(node.name));
    const row = document.createElement("tr");
    row.dataset.node = node.name;
    row.addEventListener("click", () => select(node.name));
    cell(row, "name", node.name);
    cell(row, "servlet", node.servlet);
    $("nodes").tBodies[0].appendChild(row);
  });
  view.edges.forEach((edge) => {
    const row = document.createElement("tr");
    row.dataset.edge = edge.from + " -> " + edge.to;
    cell(row, "name", edge.from + " \u2192 " + edge.to);
    $("edges").tBodies[0].appendChild(row);
  });
  if (selected !== null && !view.nodes.some((n) => n.name === selected)) selected = null;
  render();
}

function render() {
  if (view === null || live === null) return;
  view.nodes.forEach((node, i) => {
    const counts = live.nodes[node.name];
    const group = $("n" + i);
    const row = $("nodes").querySelector('tr[data-node="' + CSS.escape(node.name) + '"]');
    if (counts === undefined) return;
    if (group !== null) {
      const text = liveText(group);
      if (text) text.textContent = rate(counts.rate) + "/s  p99 " + seconds(counts.p99) +
        (counts.failures > 0 ? "  " + counts.failures + " err" : "");
      group.classList.toggle("failing", counts.failureRate > 0);
      group.classList.toggle("busy", counts.rate > 0 && counts.failureRate === 0);
      group.classList.toggle("selected", node.name === selected);
    }
    if (row !== null) {
      cell(row, "requests", String(counts.requests));
      cell(row, "rate", rate(counts.rate));
      cell(row, "p99", seconds(counts.p99));
      cell(row, "failures", String(counts.failures));
    }
  });
  const byEdge = new Map(live.edges.map((e) => [e.from + " -> " + e.to, e]));
  view.edges.forEach((edge, i) => {
    const counts = byEdge.get(edge.from + " -> " + edge.to);
    if (counts === undefined) return;
    const group = $("e" + i);
    const text = group && liveText(group);
    if (text) text.textContent = rate(counts.writeRate) + " w/s  " + bytes(counts.rate) + "/s";
    const row = $("edges").querySelector('tr[data-edge="' + CSS.escape(edge.from + " -> " + edge.to) + '"]');
    if (row !== null) {
      cell(row, "bytes", bytes(counts.bytes));
      cell(row, "writes", rate(counts.writeRate) + "/s");
      cell(row, "rate", bytes(counts.rate) + "/s");
      cell(row, "peak", bytes(counts.peak));
    }
  });
  let inRate = 0;
  let outRate = 0;
  const listeners = $("listeners").tBodies[0];
  listeners.replaceChildren();
  for (const l of live.listeners) {
    inRate += l.inRate;
    outRate += l.outRate;
    const row = document.createElement("tr");
    row.dataset.listener = l.url;
    cell(row, "url", l.url);
    cell(row, "open", String(l.open));
    cell(row, "accepted", String(l.accepted));
    cell(row, "refused", String(l.refused));
    cell(row, "in", bytes(l.inRate) + "/s");
    cell(row, "out", bytes(l.outRate) + "/s");
    listeners.appendChild(row);
  }
  for (const [id, r] of [["in", inRate], ["out", outRate]]) {
    const group = $(id);
    const text = group && liveText(group);
    if (text) text.textContent = bytes(r) + "/s";
  }
  $("reloads").textContent = live.reloads.ok + " reloaded, " + live.reloads.failed + " failed";
  $("workers").textContent = live.workers > 1 ? live.workers + " workers, summed" : "";
  showDetail();
}

function select(name) {
  selected = name;
  render();
}

function showDetail() {
  const aside = $("detail");
  const node = view && view.nodes.find((n) => n.name === selected);
  if (!node) return;
  const counts = (live && live.nodes[node.name]) || { requests: 0, failures: 0, errors: [] };
  aside.replaceChildren();
  const add = (tag, text, className) => {
    const el = document.createElement(tag);
    el.textContent = text;
    if (className) el.className = className;
    aside.appendChild(el);
    return el;
  };
  add("h2", node.name).id = "detail-name";
  const servlet = add("p", "servlet ");
  const code = document.createElement("code");
  code.id = "detail-servlet";
  code.textContent = node.servlet;
  servlet.appendChild(code);
  add("p", node.args.length === 0 ? "no arguments" : "arguments: " + JSON.stringify(node.args))
    .id = "detail-args";
  add("p", "ports: " + node.ports.map((p) =>
    (p.output ? "out " : "in ") + p.name + (p.type ? " (" + p.type + ")" : "")).join(", "));
  add("p", counts.requests + " requests, " + counts.failures + " failures");
  add("h2", "Recent errors");
  const list = add("ul", "");
  list.id = "detail-errors";
  if (counts.errors.length === 0) add("p", "none");
  for (const e of counts.errors.slice().reverse()) {
    const li = document.createElement("li");
    li.className = "error";
    li.textContent = e.time + "  " + e.message;
    list.appendChild(li);
  }
}

const events = new EventSource("/events");
events.onmessage = (event) => {
  live = JSON.parse(event.data);
  updates++;
  $("updates").textContent = String(updates);
  $("status").textContent = "live";
  $("status").className = "live";
  if (view !== null && live.generation !== view.generation) loadGraph();
  else render();
};
events.onerror = () => {
  $("status").textContent = "disconnected, retrying";
  $("status").className = "";
};
loadGraph().catch((error) => { $("graph").textContent = "cannot draw the graph: " + error; });
`;

/** The page, as served. */
export const ADMIN_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>plumb admin</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>plumb</h1><span id="file"></span><span id="generation"></span>
<span id="workers"></span><span id="status">connecting</span></header>
<div id="graph">drawing the graph</div>
<main>
<div>
<section><h2>Listeners</h2>
<table id="listeners"><thead><tr><th>listener</th><th>open</th><th>accepted</th><th>refused</th>
<th>in</th><th>out</th></tr></thead><tbody></tbody></table></section>
<section><h2>Nodes</h2>
<table id="nodes"><thead><tr><th>node</th><th>servlet</th><th>requests</th><th>req/s</th>
<th>p99 (last second)</th><th>failures</th></tr></thead><tbody></tbody></table></section>
<section><h2>Edges</h2>
<table id="edges"><thead><tr><th>edge</th><th>bytes</th><th>writes</th><th>rate</th><th>peak queue</th></tr>
</thead><tbody></tbody></table></section>
</div>
<aside id="detail"><p>Click a node for its servlet, arguments and recent errors.</p></aside>
</main>
<footer>updates: <span id="updates">0</span> · reloads: <span id="reloads">-</span> ·
<a href="/metrics">/metrics</a> · <a href="/health">/health</a></footer>
<script>${SCRIPT}</script>
</body>
</html>
`;

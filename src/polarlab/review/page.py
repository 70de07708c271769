"""The review page: static HTML + one script; every item text goes in through ``textContent``."""
from __future__ import annotations

import html

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="__NONCE__">
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}
header{display:flex;gap:1.2em;align-items:center;padding:.5em 1em;background:#223;color:#eee;flex-wrap:wrap}
header b{color:#fff} main{display:grid;grid-template-columns:minmax(0,3fr) minmax(220px,1fr);gap:1em;padding:1em}
#card{background:#fff;border-radius:6px;padding:1em;box-shadow:0 1px 3px #0002}
#text{font-size:1.15em;white-space:pre-wrap;word-break:break-word;margin:.4em 0 1em}
mark{background:#ffe08a;padding:0 .1em} .meta{color:#555;font-size:.9em} .meta span{margin-right:1em}
#labels button{font-size:1em;margin:.2em;padding:.35em .8em;cursor:pointer}
#labels button.current{outline:2px solid #c90}
aside{background:#fff;border-radius:6px;padding:1em;box-shadow:0 1px 3px #0002}
#help{display:none;background:#ffd;padding:.5em 1em;border-radius:6px;margin-bottom:1em}
#other{display:none;margin:.4em .2em} #otherid{font-size:1em;padding:.3em;width:18em}
#msg{color:#a00;min-height:1.2em} ul{padding-left:1.1em;margin:.3em 0} svg{width:100%;height:120px}
kbd{border:1px solid #999;border-radius:3px;padding:0 .3em;background:#fafafa}
</style></head>
<body>
<header><b>__TITLE__</b><span id="who"></span><span id="progress"></span><span id="estimate"></span>
<span>press <kbd>?</kbd> for help</span></header>
<main><section>
<div id="help"><kbd>1</kbd>…<kbd>9</kbd> choose a label (or a candidate) · <kbd>o</kbd> another id (a linking
item: type any id of the ontology, <kbd>Enter</kbd> saves it, <kbd>Esc</kbd> closes the field) · <kbd>s</kbd> skip ·
<kbd>u</kbd> undo the last answer · <kbd>?</kbd> this help. Each answer is saved before the next item appears.</div>
<div id="msg" role="status"></div>
<div id="card"><div class="meta" id="itemmeta"></div><div id="text"></div>
<div id="labels"></div>
<div id="other"><input id="otherid" autocomplete="off" spellcheck="false" aria-label="another id"></div>
<div class="meta"><div id="llm"></div><div id="rulestitle">Rules that fired:</div><ul id="rules"></ul>
<div id="corrections"></div></div></div>
</section>
<aside><div><b>Risk vs errors found</b></div><svg id="chart" viewBox="0 0 200 100" role="img"
aria-label="reviewed items and errors found per risk bin"></svg>
<div class="meta">grey: reviewed · red: errors found (x: risk 0→1)</div>
<div id="agreement" class="meta"></div></aside></main>
<script nonce="__NONCE__">
"use strict";
const Q = new URLSearchParams(location.search);
const TOKEN = Q.get("token") || "";
let reviewer = Q.get("reviewer") || localStorage.getItem("polarlab-reviewer") || "";
while (!reviewer) { reviewer = (prompt("Your name (stored with each answer):") || "").trim(); }
localStorage.setItem("polarlab-reviewer", reviewer);
const $ = (id) => document.getElementById(id);
let item = null, labels = [], busy = false, shownAsOf = -Infinity;
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls; return e; }
async function api(path, body) {
  const opt = {headers: {"X-Review-Token": TOKEN}};
  if (body !== undefined) { opt.method = "POST"; opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body); }
  const r = await fetch(path, opt); const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || ("HTTP " + r.status)); return data;
}
function highlighted(text, spans) {
  const box = $("text"); box.replaceChildren(); let at = 0;
  const ok = (spans || []).filter(s => Number.isInteger(s.start) && Number.isInteger(s.end) && s.end > s.start)
    .sort((a, b) => a.start - b.start);
  for (const s of ok) { if (s.start < at) continue; box.append(document.createTextNode(text.slice(at, s.start)));
    box.append(el("mark", text.slice(s.start, s.end))); at = s.end; }
  box.append(document.createTextNode(text.slice(at)));
}
// an item's answers: its own choices (a mention's candidate entities) when it has them, else the review's labels
function choices(it) { return it && Array.isArray(it.choices) ? it.choices.map(c => String(c.label)) : labels; }
function hideOther() { $("other").style.display = "none"; $("otherid").value = ""; $("otherid").blur(); }
// o: a field for an answer outside the item's choices (a linking item: any id of the ontology; the server checks it)
function showOther() { if (!item || !item.other) return; $("otherid").placeholder = item.other;
  $("other").style.display = "block"; $("otherid").focus(); }
function show(it, done) {
  const same = it && item && it.id === item.id;
  item = it; $("msg").textContent = ""; $("card").dataset.item = it ? it.id : "";
  if (!same) hideOther();
  if (!it) { $("text").textContent = done || "Nothing left to review. Thank you!"; $("labels").replaceChildren();
    $("rules").replaceChildren(); $("llm").textContent = ""; $("itemmeta").textContent = ""; return; }
  highlighted(it.text || "", it.entities);
  const names = choices(it);
  const m = $("itemmeta"); m.replaceChildren();
  m.append(el("span", "item " + it.id), el("span", it.kind === "audit" ? "random check" : "risky"),
    ...(it.labels_file ? [el("span", "labels file: " + (labels[it.labels_file.label] ?? it.labels_file.label) + " " +
      Number(it.labels_file.probability).toFixed(3), "infile")] : []),
    el("span", "review model: " + (names[it.label] ?? it.label) + " " +
      Number(it.probability ?? 1 - it.risk).toFixed(2) + " (risk " + Number(it.risk).toFixed(2) + ")", "review"));
  const lb = $("labels"); lb.replaceChildren();
  names.forEach((name, i) => { const b = el("button", (i + 1) + " · " + name); if (i === it.label) b.className = "current";
    b.addEventListener("click", () => send(i)); lb.append(b); });
  if (it.other) { const o = el("button", "o · other id…"); o.addEventListener("click", showOther); lb.append(o); }
  const sk = el("button", "s · skip"); sk.addEventListener("click", () => send(null)); lb.append(sk);
  $("llm").textContent = it.llm ? ("LLM " + it.llm.name + " says " + it.llm.answer + " (risk " +
    (it.llm.risk == null ? "?" : Number(it.llm.risk).toFixed(2)) + ")") : "";
  $("rulestitle").textContent = it.rules_title || "Rules that fired:";
  const ul = $("rules"); ul.replaceChildren();
  for (const r of it.rules || []) ul.append(el("li", r.name + ": " + r.label + (r.explain ? " — " + r.explain : "")));
  if (!(it.rules || []).length) ul.append(el("li", "none"));
  const c = $("corrections"); c.replaceChildren();
  for (const x of it.corrections || []) c.append(el("div", "correction: " + x));
}
async function next(after) { const d = await api("/api/next?reviewer=" + encodeURIComponent(reviewer));
  show(d.item, d.message); status(after).catch(e => { $("msg").textContent = e.message; }); }
async function send(label, other) {
  if (!item || busy) return; busy = true;
  try { const d = await api("/api/answer", {reviewer, row: item.row, label, ...(other === undefined ? {} : {other}),
          request_id: (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()))});
        await next(d.as_of); }
  catch (e) { $("msg").textContent = "not saved: " + e.message; if (/answered|taken/.test(e.message)) await next(); }
  finally { busy = false; }
}
async function undo() {
  if (busy) return; busy = true;
  try { const d = await api("/api/undo", {reviewer}); if (d.row === null) $("msg").textContent = "nothing to undo";
        else await next(d.as_of); } catch (e) { $("msg").textContent = e.message; } finally { busy = false; }
}
function pct(x) { return (100 * x).toFixed(1) + "%"; }
// after: the as_of of the answer just stored, so the counts include it; a status older than the one shown
// (its request overtaken by a later one) is dropped, so the counts never step back
async function status(after) {
  const s = await api("/api/status" + (after === undefined ? "" : "?after=" + encodeURIComponent(after)));
  if (s.as_of < shownAsOf) return; shownAsOf = s.as_of; labels = s.labels;
  $("who").textContent = "reviewer: " + reviewer;
  $("progress").textContent = s.reviewed + " reviewed · " + s.accepted + " accepted · " + s.remaining +
    " remaining · budget left " + s.budget_left;
  const e = s.estimate; $("estimate").textContent = Number.isFinite(e.accuracy) ? ("estimated accuracy " +
    pct(e.accuracy) + " [" + pct(e.lower) + ", " + pct(e.upper) + "] target " + pct(s.target)) : "";
  const svg = $("chart"); svg.replaceChildren(); const NS = "http://www.w3.org/2000/svg";
  const top = Math.max(1, ...s.chart.map(b => b.reviewed)); const w = 200 / s.chart.length;
  s.chart.forEach((b, i) => { for (const [n, color] of [[b.reviewed, "#bbb"], [b.errors, "#c33"]]) {
    const r = document.createElementNS(NS, "rect"); const h = 95 * n / top;
    r.setAttribute("x", i * w + 1); r.setAttribute("width", w - 2); r.setAttribute("y", 98 - h);
    r.setAttribute("height", h); r.setAttribute("fill", color); svg.append(r); } });
  const a = s.agreement; $("agreement").textContent = a.items ? ("double-reviewed items: " + a.items +
    ", agreement " + pct(a.pairwise) + (a.kappa == null ? "" : ", kappa " + a.kappa.toFixed(2))) : "";
  if (item) show(item);
}
$("otherid").addEventListener("keydown", (ev) => {
  ev.stopPropagation();            // typing an id is not a shortcut
  if (ev.key === "Escape") hideOther();
  else if (ev.key === "Enter" && $("otherid").value.trim()) send(null, $("otherid").value.trim());
});
document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === "o" && item && item.other) { ev.preventDefault(); return showOther(); }
  if (ev.key === "?") { const h = $("help"); h.style.display = h.style.display === "block" ? "none" : "block"; return; }
  if (ev.key === "s") return send(null);
  if (ev.key === "u") return undo();
  const k = Number(ev.key); if (Number.isInteger(k) && k >= 1 && k <= choices(item).length) send(k - 1);
});
status().then(next).catch(e => { $("msg").textContent = e.message; });
</script></body></html>
"""


def render_page(title: str, nonce: str) -> str:
    """The page with its title (HTML-escaped) and the CSP nonce."""
    return PAGE.replace("__TITLE__", html.escape(title)).replace("__NONCE__", nonce)

// The demo page: one form, drawn to suit the recipe that GET /health names. No framework, no build.
"use strict";

const $ = (id) => document.getElementById(id);

const PAGES = {
  translation: {
    label: "Sentence to translate",
    button: "Translate",
    example: "Ein Mann fährt mit dem Fahrrad die Straße entlang .",
    run: translate,
  },
  ner: {
    label: "Text to tag",
    button: "Find entities",
    example: "Angela Merkel met Emmanuel Macron in Paris on Tuesday , said the European Union .",
    run: tag,
  },
  sentiment: {
    label: "Text to classify",
    button: "Classify",
    example: "a gripping , beautifully acted film with a dull ending .",
    run: classify,
  },
  char_lm: { label: "Prompt", button: "Generate", example: "ROMEO:", run: generate },
};

let health = null;

// ---- small helpers ----------------------------------------------------------------------------------
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "style") Object.assign(node.style, value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await errorOf(response));
  return response;
}

async function api(path, body) {
  return (await post(path, body)).json();
}

async function errorOf(response) {
  try {
    return (await response.json()).error || `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

function mix(from, to, t) {
  // an rgb() between two [r, g, b] colours, t in [0, 1]
  const c = from.map((f, i) => Math.round(f + (to[i] - f) * Math.min(1, Math.max(0, t))));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

// ---- translation: the attention heatmap and the n-best list -----------------------------------------
async function translate(text, out) {
  const beam = Math.max(5, (health.options || {}).beam_size || 5);
  const [attention, nbest] = await Promise.all([
    api("/attention", { inputs: [text] }),
    api("/predict", { inputs: [text], method: "beam", beam_size: beam, n_best: 5 }),
  ]);
  const hypotheses = nbest.outputs[0];
  out.append(
    el("h2", {}, "Translation"),
    el("p", { className: "translation" }, hypotheses[0].text),
    heatmap(attention.outputs[0]),
    el("h2", {}, `${hypotheses.length}-best (beam ${beam})`),
    el("ol", { className: "nbest" }, ...hypotheses.map((h) =>
      el("li", {},
        el("span", { className: "hyp" }, h.text || "∅"),
        el("span", { className: "score" }, h.score === null ? "" : h.score.toFixed(3))))),
  );
}

function heatmap({ source, target, weights }) {
  // weight 0: white, 1: dark blue (as nlprnn.plotting draws it), so maps of two sentences compare
  const white = [248, 250, 252];
  const blue = [30, 64, 175];
  const cell = (piece, s, w) =>
    el("td", {
      title: `${piece} → ${s}: ${w.toFixed(3)}`,
      dataset: { weight: w },
      style: { background: mix(white, blue, w) },
    });
  const head = el("tr", {},
    el("th", { className: "corner", scope: "col" }, "target ↓ source →"),
    ...source.map((piece) => el("th", { className: "src", scope: "col" }, el("span", {}, piece))));
  const rows = target.map((piece, t) =>
    el("tr", {},
      el("th", { className: "tgt", scope: "row" }, piece),
      ...source.map((s, i) => cell(piece, s, weights[t][i]))));
  const caption = el("caption", {},
    "Attention: each row is a target piece, its cells the weight on each source piece ",
    el("span", { className: "scale", "aria-hidden": "true" }, "0", el("span", { className: "ramp" }), "1"),
    ". Hover a cell for its weight.");
  return el("figure", { className: "heatmap-box" },
    el("table", { className: "heatmap" }, caption, el("thead", {}, head), el("tbody", {}, ...rows)));
}

// ---- ner: the text with its entities highlighted -------------------------------------------------------
const ENTITY_COLOURS = { PER: "#fde68a", LOC: "#bbf7d0", ORG: "#bfdbfe", MISC: "#fbcfe8" };

function entityColour(type) {
  if (ENTITY_COLOURS[type]) return ENTITY_COLOURS[type];
  let hash = 0;
  for (const c of type) hash = (hash * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${hash}, 75%, 82%)`;
}

async function tag(text, out) {
  const tagging = (await api("/predict", { inputs: [text] })).outputs[0];
  renderTagging(text, tagging, out);
}

function renderTagging(text, tagging, out) {
  const marked = el("p", { className: "tagged" });
  let at = 0;
  for (const e of [...tagging.entities].sort((a, b) => a.start - b.start)) {
    marked.append(text.slice(at, e.start));
    const label = `${e.type} ${percent(e.score)}`;
    const colour = { background: entityColour(e.type) };
    marked.append(
      el("mark", { className: "entity", title: label, dataset: { type: e.type }, style: colour },
        el("span", { className: "entity-text" }, text.slice(e.start, e.end)),
        el("span", { className: "entity-label" }, label)),
    );
    at = e.end;
  }
  marked.append(text.slice(at));
  const types = [...new Set([...Object.keys(ENTITY_COLOURS), ...tagging.entities.map((e) => e.type)])];
  const legend = el("ul", { className: "legend", "aria-label": "entity types" },
    ...types.map((type) =>
      el("li", {}, el("span", { className: "swatch", style: { background: entityColour(type) } }), type)));
  const found = tagging.tokens.length === 0 ? "The text has no tokens."
    : tagging.entities.length === 0 ? "No entities found." : `${tagging.entities.length} entities found.`;
  const tokens = el("ol", { className: "tokens", "aria-label": "tokens and their tags" },
    ...tagging.tokens.map((t) =>
      el("li", { title: `${t.tag} ${percent(t.confidence)}` }, el("span", { className: "token" }, t.text),
        el("span", { className: t.tag === "O" ? "tag outside" : "tag" }, t.tag))));
  out.append(el("h2", {}, "Entities"), marked, legend, el("p", { className: "muted" }, found),
    el("h2", {}, "Tokens"), tokens);
}

// ---- sentiment: label probabilities as bars, words shaded by attention ----------------------------------
async function classify(text, out) {
  const explained = (await api("/explain", { inputs: [text] })).outputs[0];
  const bar = (label, p) =>
    el("div", { className: label === explained.label ? "bar-row best" : "bar-row", dataset: { label } },
      el("span", { className: "bar-label" }, label),
      el("div", { className: "bar-track", role: "meter", "aria-label": label, "aria-valuemin": 0,
        "aria-valuemax": 1, "aria-valuenow": p },
      el("div", { className: "bar-fill", style: { width: `${100 * p}%` } })),
      el("span", { className: "bar-value" }, percent(p)));
  const bars = el("div", { className: "bars" },
    ...Object.entries(explained.probabilities).map(([label, p]) => bar(label, p)));
  const weights = explained.weights;
  const top = weights ? Math.max(...weights) : 0;
  const pieces = explained.tokens.some((t) => t.startsWith("▁"));
  const words = el("p", { className: "words" });
  explained.tokens.forEach((token, i) => {
    const shown = pieces ? token.replace(/^▁/, "") : token;
    if (i > 0 && (!pieces || token.startsWith("▁"))) words.append(" ");
    const props = { className: "word" };
    if (weights) {
      props.title = `attention ${weights[i].toFixed(3)}`;
      props.dataset = { weight: weights[i] };
      props.style = { background: `rgba(234, 88, 12, ${(0.85 * weights[i]) / top})` };
    }
    words.append(el("span", props, shown));
  });
  const note = weights
    ? "Each token is shaded by its attention-pooling weight (darkest: the most weight)."
    : explained.pooling
      ? `No shading: it needs attention pooling, and this model pools by ${explained.pooling}.`
      : "No shading: it needs attention pooling weights, which this model's runtime does not give.";
  out.append(el("h2", {}, `Label: ${explained.label}`), bars,
    el("h2", {}, "What the model attended to"), words, el("p", { className: "muted note" }, note));
}

// ---- char_lm: the sample, streamed as it is drawn ---------------------------------------------------
async function generate(text, out) {
  const body = {
    inputs: [text],
    length: Number($("length").value),
    temperature: Number($("temperature").value),
  };
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  const sample = el("pre", { className: "sample streaming", id: "sample", dataset: { chunks: 0 } });
  out.append(el("h2", {}, "Sample"), sample);
  const response = await post("/stream", body);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event.type === "error") throw new Error(event.data.error);
        if (event.type === "message") {
          sample.append(event.data.text);
          sample.dataset.chunks = Number(sample.dataset.chunks) + 1;
        }
      }
    }
  } finally {
    sample.classList.remove("streaming");
  }
}

function parseEvent(block) {
  let type = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) type = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  return { type, data: data ? JSON.parse(data) : {} };
}

// ---- the page ---------------------------------------------------------------------------------------
function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function submit(event) {
  event.preventDefault();
  const page = PAGES[health.recipe];
  const out = $("result");
  showError("");
  out.replaceChildren();
  $("run").disabled = true;
  out.setAttribute("aria-busy", "true");
  document.body.dataset.state = "running";
  try {
    await page.run($("text").value, out);
    document.body.dataset.state = "done";
  } catch (error) {
    showError(error.message);
    document.body.dataset.state = "error";
  } finally {
    $("run").disabled = false;
    out.removeAttribute("aria-busy");
  }
}

async function start() {
  $("run").disabled = true;
  try {
    const response = await fetch("/health");
    health = await response.json();
  } catch (error) {
    showError(`cannot reach the server: ${error.message}`);
    return;
  }
  const page = PAGES[health.recipe];
  if (!page) {
    showError(`this page has no view for recipe ${health.recipe}; the API is at /docs`);
    return;
  }
  document.body.dataset.recipe = health.recipe;
  $("recipe").textContent = health.recipe;
  document.title = `nlprnn ${health.recipe}`;
  $("model-info").textContent = `step ${health.step ?? "?"} · ${health.device} · ${health.runtime ?? "torch"}`;
  $("text-label").textContent = page.label;
  $("text").value = page.example;
  $("run").textContent = page.button;
  $("generation-options").hidden = health.recipe !== "char_lm";
  $("form").addEventListener("submit", submit);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("form").requestSubmit();
  });
  $("run").disabled = false;
  document.body.dataset.state = "ready";
}

start();

// The emojigan studio page: every picture comes from this server's /api (README, "The studio"); nothing else is fetched.
"use strict";

const $ = (id) => document.getElementById(id);
const COLUMNS = 8;              // the server tiles a grid min(n, 8) wide, without padding
let models = [];
let shown = null;               // the grid on screen: {seed, n, label, prompt, model}
let picked = 0;                 // the picked emoji's index in that grid
let strip = null;               // the interpolation's frames, side by side

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

async function call(url, options) {
  // fetch, and turn a 4xx/5xx JSON {error} into one thrown line; a message on screen belongs to the last action
  clearError();
  document.body.classList.add("busy");
  try {
    const response = await fetch(url, options);
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response;
  } finally {
    document.body.classList.remove("busy");
  }
}

function currentModel() {
  return models.find((m) => m.name === $("model").value);
}

function conditionParams() {
  const m = currentModel();
  const p = {};
  if (m.kind !== "unconditional" && $("label").value.trim()) p.label = $("label").value.trim();
  if (m.prompts && $("prompt").value.trim()) p.prompt = $("prompt").value;
  return p;
}

function query(params) {
  return new URLSearchParams(Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined))).toString();
}

function onModelChange() {
  const m = currentModel();
  $("model-info").textContent = `${m.kind}, ${m.size}x${m.size}` +
    (m.labels.length ? `, ${m.labels.length} emojis` : "") + (m.members > 1 ? `, ${m.members} generators` : "");
  $("label-field").hidden = m.kind === "unconditional";
  $("prompt-field").hidden = !m.prompts;
  $("label").value = "";
  $("prompt").value = "";
  const labels = $("labels");
  labels.replaceChildren(...m.labels.map((name) => new Option("", name)));
  const ends = $("ends");
  ends.replaceChildren(...["seed:0", `seed:${m.members}`, ...m.labels.slice(0, 200)].map((name) => new Option("", name)));
  if (m.kind !== "unconditional" && m.labels.length > 1) {
    $("from").value = m.labels[0];
    $("to").value = m.labels[1];
  } else {  // a mixture draws seed k with generator k mod M: the path stays in one generator
    $("from").value = "seed:0";
    $("to").value = `seed:${m.members}`;
  }
  generate();
}

async function generate(event) {
  if (event) event.preventDefault();
  const params = { model: $("model").value, seed: $("seed").value, n: $("count").value, ...conditionParams() };
  try {
    const blob = await (await call(`/api/generate?${query(params)}`)).blob();
    clearError();
    const img = $("grid");
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
    img.hidden = false;
    $("download-grid").href = img.src;
    shown = { ...params, seed: parseInt(params.seed, 10), n: parseInt(params.n, 10) };
    pick(0);
  } catch (e) {
    showError(e.message);
  }
}

function pick(index) {
  picked = index;
  $("picked").textContent = shown ? `Picked: seed ${shown.seed + index}.` : "";
}

function onGridClick(event) {
  if (!shown) return;
  const img = $("grid");
  const columns = Math.min(shown.n, COLUMNS);
  const cell = img.clientWidth / columns;
  const index = Math.floor(event.offsetY / cell) * columns + Math.floor(event.offsetX / cell);
  if (index < shown.n) pick(index);
}

async function download(url, fallbackName) {
  try {
    const response = await call(url);
    const blob = await response.blob();
    const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = match ? match[1] : fallbackName;
    document.body.appendChild(a);
    a.click();
    a.remove();
    clearError();
  } catch (e) {
    showError(e.message);
  }
}

function downloadEmoji(event) {
  event.preventDefault();
  if (!shown) return;
  const { model, label, prompt } = shown;
  download(`/api/emoji?${query({ model, seed: shown.seed + picked, size: $("size").value, label, prompt })}`, "emoji.png");
}

function interpolateParams() {
  return { model: $("model").value, start: $("from").value, end: $("to").value, steps: $("steps").value,
           seed: $("seed").value };
}

async function interpolate(event) {
  if (event) event.preventDefault();
  try {
    const blob = await (await call(`/api/interpolate?${query(interpolateParams())}`)).blob();
    const img = new Image();
    img.src = URL.createObjectURL(blob);
    await img.decode();
    clearError();
    strip = img;
    const slider = $("slider");
    slider.max = String(img.naturalWidth / img.naturalHeight - 1);
    slider.value = "0";
    slider.disabled = false;
    drawFrame();
  } catch (e) {
    showError(e.message);
  }
}

function drawFrame() {
  if (!strip) return;
  const side = strip.naturalHeight;
  const k = parseInt($("slider").value, 10);
  const canvas = $("frame");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(strip, k * side, 0, side, side, 0, 0, canvas.width, canvas.height);
  $("slider-value").textContent = `frame ${k + 1} of ${parseInt($("slider").max, 10) + 1}`;
  canvas.dataset.frame = String(k);
}

function downloadGif(event) {
  event.preventDefault();
  download(`/api/interpolate?${query({ ...interpolateParams(), format: "gif" })}`, "interpolation.gif");
}

async function encodeUpload(event) {
  event.preventDefault();
  const file = $("upload").files[0];
  if (!file) {
    showError("choose an image to encode");
    return;
  }
  const form = new FormData();
  form.append("image", file);
  form.append("model", $("model").value);
  try {
    const out = await (await call("/api/encode", { method: "POST", body: form })).json();
    clearError();
    $("upload-input").src = out.input;
    $("reconstruction").src = out.reconstruction;
    $("recon-caption").textContent = `reconstruction (SSIM ${out.ssim.toFixed(3)})`;
    $("nearest").src = out.nearest.image;
    $("nearest-caption").textContent = `nearest training emoji: ${out.nearest.name} (SSIM ${out.nearest.ssim.toFixed(3)})`;
    $("edits").replaceChildren(...out.edits.map((e) => {
      const fig = document.createElement("figure");
      const img = new Image();
      img.src = e.image;
      img.alt = `edit along ${e.word}`;
      const cap = document.createElement("figcaption");
      cap.textContent = `'${e.word}' (${e.count} emojis), strengths ${out.strengths.join(", ")}`;
      fig.append(img, cap);
      return fig;
    }));
    $("encode-result").hidden = false;
  } catch (e) {
    showError(e.message);
  }
}

async function start() {
  try {
    models = (await (await call("/api/models")).json()).models;
  } catch (e) {
    showError(`the studio's server did not answer: ${e.message}`);
    return;
  }
  $("model").replaceChildren(...models.map((m) => new Option(`${m.name} (${m.kind})`, m.name)));
  $("model").addEventListener("change", onModelChange);
  $("generate-form").addEventListener("submit", generate);
  $("grid").addEventListener("click", onGridClick);
  $("download-emoji").addEventListener("click", downloadEmoji);
  $("interpolate-form").addEventListener("submit", interpolate);
  $("slider").addEventListener("input", drawFrame);
  $("download-gif").addEventListener("click", downloadGif);
  $("encode-form").addEventListener("submit", encodeUpload);
  onModelChange();
}

start();

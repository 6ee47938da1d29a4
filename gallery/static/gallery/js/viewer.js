// The viewer: one image large over the page, with its prompt and parameters; ← → step, Esc
// closes; the URL fragment (#image=<session>/<file>) names the image, so a link reopens it.
import { el, pairs } from "./dom.js";

const HASH_PREFIX = "#image=";
const OPEN_PREFIX = "#open="; // #open=first / #open=last: set when stepping onto another page

export function keyOf(item) {
  return `${encodeURIComponent(item.session_id)}/${encodeURIComponent(item.filename)}`;
}

export function formatBytes(size) {
  if (size === null || size === undefined) return "—";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(0)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

export async function copyText(text, { clipboard = navigator.clipboard, doc = document } = {}) {
  if (clipboard && window.isSecureContext) {
    try {
      await clipboard.writeText(text);
      return true;
    } catch {
      // fall through: permission refused, or the page is not focused
    }
  }
  // Plain http on a LAN address has no Clipboard API: the old way still works there.
  const area = el("textarea", { readonly: true, style: { position: "fixed", opacity: "0" } });
  area.value = text;
  doc.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = doc.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

// An image's own settings (the API's params), labelled; its size is already in the details.
const PARAMETER_LABELS = {sd_model: "model", sampler_name: "sampler", scheduler: "scheduler", steps: "steps",
                          cfg_scale: "CFG scale"};

function imageParameters(item) {
  const rows = Object.entries(PARAMETER_LABELS)
    .filter(([key]) => item.params && item.params[key] !== null && item.params[key] !== undefined)
    .map(([key, label]) => [label, String(item.params[key])]);
  rows.unshift(["generator", item.generator]);
  return rows;
}

export class Viewer {
  constructor(dialog, { images, sessions = {}, pageSession = null, previousPage = null, nextPage = null,
                        win = window } = {}) {
    this.dialog = dialog;
    this.images = images.slice();
    this.sessions = sessions;
    this.pageSession = pageSession;
    this.previousPage = previousPage;
    this.nextPage = nextPage;
    this.win = win;
    this.position = -1;
    this.preloaded = new Map();
    this.parts = {};
    for (const node of dialog.querySelectorAll("[data-v]")) this.parts[node.dataset.v] = node;
    this.bind();
  }

  bind() {
    const { parts } = this;
    parts.close.addEventListener("click", () => this.close());
    parts.prev.addEventListener("click", () => this.step(-1));
    parts.next.addEventListener("click", () => this.step(1));
    parts.copy.addEventListener("click", () => this.copyPrompt());
    parts.image.addEventListener("load", () => this.loaded());
    // Esc (the dialog's own cancel) or close(): the fragment goes with it.
    this.dialog.addEventListener("close", () => {
      this.position = -1;
      this.setHash("");
    });
    // On the document: a click on the picture leaves the focus outside any control.
    this.win.document.addEventListener("keydown", (event) => {
      if (!this.dialog.open || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.target instanceof Element && event.target.closest("input, textarea, select")) return;
      if (event.key === "ArrowRight") { event.preventDefault(); this.step(1); }
      if (event.key === "ArrowLeft") { event.preventDefault(); this.step(-1); }
    });
    let startX = null;
    parts.image.parentElement.addEventListener("pointerdown", (event) => { startX = event.clientX; });
    parts.image.parentElement.addEventListener("pointerup", (event) => {
      if (startX === null) return;
      const moved = event.clientX - startX;
      startX = null;
      if (Math.abs(moved) > 60) this.step(moved < 0 ? 1 : -1);
    });
    this.win.addEventListener("hashchange", () => this.restore());
  }

  add(items) {
    this.images.push(...items);
    if (this.isOpen()) this.renderSteps();
  }

  isOpen() {
    return this.dialog.open;
  }

  open(position) {
    const item = this.images[position];
    if (!item) return;
    this.position = position;
    if (!this.dialog.open) this.dialog.showModal();
    this.render(item);
    this.setHash(HASH_PREFIX + keyOf(item));
    this.preload(position + 1);
    this.preload(position - 1);
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  step(delta) {
    if (this.position < 0) return;
    const target = this.position + delta;
    if (target >= 0 && target < this.images.length) {
      this.open(target);
    } else if (delta > 0 && this.nextPage) {
      this.win.location.assign(`${this.nextPage}${OPEN_PREFIX}first`);
    } else if (delta < 0 && this.previousPage) {
      this.win.location.assign(`${this.previousPage}${OPEN_PREFIX}last`);
    }
  }

  // Opens the image the fragment names (or closes the viewer when it names none).
  restore() {
    const hash = this.win.location.hash;
    if (hash.startsWith(OPEN_PREFIX)) {
      const which = hash.slice(OPEN_PREFIX.length);
      if (this.images.length) this.open(which === "last" ? this.images.length - 1 : 0);
      return;
    }
    if (!hash.startsWith(HASH_PREFIX)) {
      this.close();
      return;
    }
    const key = hash.slice(HASH_PREFIX.length);
    const position = this.images.findIndex((item) => keyOf(item) === key);
    if (position >= 0 && position !== this.position) this.open(position);
  }

  setHash(hash) {
    const { location, history } = this.win;
    if (location.hash === hash || (!hash && !location.hash)) return;
    // replaceState: stepping through 200 images must not fill the Back button's history.
    history.replaceState(history.state, "", `${location.pathname}${location.search}${hash}`);
  }

  preload(position) {
    const item = this.images[position];
    if (!item || !item.url || this.preloaded.has(item.url)) return;
    const image = new Image();
    image.decoding = "async";
    image.src = item.url;
    this.preloaded.set(item.url, image);
  }

  loaded() {
    this.parts.image.classList.add("is-loaded");
    this.parts.placeholder.hidden = true;
  }

  renderSteps() {
    const { parts } = this;
    parts.count.textContent = `${this.position + 1} / ${this.images.length}`;
    parts.prev.disabled = this.position <= 0 && !this.previousPage;
    parts.next.disabled = this.position >= this.images.length - 1 && !this.nextPage;
  }

  render(item) {
    const { parts } = this;
    this.renderSteps();
    parts.filename.textContent = item.filename;
    const session = this.sessions[item.session_id] || {};
    parts.session.textContent = item.session_id;
    parts.session.href = session.url || "#";
    parts.session.hidden = item.session_id === this.pageSession;
    parts.open.hidden = !item.url;
    parts.open.href = item.url || "#";

    parts.image.classList.remove("is-loaded");
    parts.placeholder.hidden = !item.thumbnail_url;
    if (item.thumbnail_url) parts.placeholder.src = item.thumbnail_url;
    parts.missing.hidden = Boolean(item.url);
    parts.image.hidden = !item.url;
    if (item.url) {
      parts.image.alt = item.prompt || item.filename;
      parts.image.src = item.url;
      if (parts.image.complete && parts.image.naturalWidth) this.loaded();
    } else {
      parts.image.removeAttribute("src");
    }

    parts.prompt.textContent = item.prompt || "—";
    parts.negative.textContent = item.negative_prompt || "—";
    parts.copy.disabled = !item.prompt;
    parts.copied.textContent = "";
    const variations = Object.entries(item.applied_variations || {}).map(([name, value]) => [name, value ?? "—"]);
    parts["variations-section"].hidden = variations.length === 0;
    pairs(parts.variations, variations);
    const details = [["seed", item.seed ?? "—"], ["index", item.index ?? "—"]];
    if (item.width && item.height) details.push(["size", `${item.width}×${item.height}`]);
    details.push(["file", formatBytes(item.file_size)]);
    if (item.created_at) details.push(["written", new Date(item.created_at).toLocaleString()]);
    pairs(parts.details, details);
    // An sdgen image was made with its session's settings (with its mode and seed mode); an image
    // from another generator carries its own.
    const parameters = item.generator && item.generator !== "sdgen" ? imageParameters(item)
      : (session.parameters || []);
    parts["parameters-section"].hidden = parameters.length === 0;
    pairs(parts.parameters, parameters);
  }

  async copyPrompt() {
    const item = this.images[this.position];
    if (!item || !item.prompt) return;
    const copied = await copyText(item.prompt);
    this.parts.copied.textContent = copied ? "Copied" : "Could not copy: select the text instead";
  }
}

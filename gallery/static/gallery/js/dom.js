// Small DOM helpers. Text from users and manifests (names, tags, notes, prompts) only ever
// goes in through textContent or attribute values, never parsed as HTML.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "style") for (const [key, val] of Object.entries(value)) node.style.setProperty(key, val);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function readPageData(doc = document) {
  const node = doc.getElementById("gallery-data");
  if (!node) return null;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return null;
  }
}

export function csrfToken(doc = document) {
  const meta = doc.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

// The same texts the server renders (gallery.presenters.count_text and bar_width).
export function countText(actual, expected) {
  return expected === null || expected === undefined ? String(actual) : `${actual} / ${expected}`;
}

export function barWidth(completion) {
  const value = Math.max(0, Math.min(100, Number(completion) || 0));
  return `${value.toFixed(1)}%`;
}

export function pairs(list, entries) {
  // A <dl> filled with [label, value] rows.
  list.replaceChildren();
  for (const [label, value] of entries) {
    list.append(el("dt", { text: label }), el("dd", { text: value }));
  }
}

let toastTimer = null;

export function toast(message, { error = false, doc = document } = {}) {
  let node = doc.querySelector("[data-toast]");
  if (!node) {
    node = el("div", { className: "toast", role: "status", "aria-live": "polite", "data-toast": true });
    doc.body.append(node);
  }
  node.textContent = message;
  node.classList.toggle("is-error", error);
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, error ? 8000 : 2500);
}

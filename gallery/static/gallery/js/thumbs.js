// A thumbnail cell for an image item of the API (the markup of gallery/includes/thumbs.html).
import { el } from "./dom.js";

const DEFAULT_ASPECT = 2 / 3;

export function aspectOf(item) {
  return item.width && item.height ? item.width / item.height : DEFAULT_ASPECT;
}

export function titleOf(item) {
  const lines = Object.entries(item.applied_variations || {}).map(([name, value]) => `${name}: ${value}`);
  if (item.seed !== null && item.seed !== undefined) lines.push(`seed: ${item.seed}`);
  return lines.join("\n") || item.filename;
}

export function thumbnailCell(item, position) {
  const src = item.thumbnail_url || item.url;
  const link = el("a", {
    className: "single-thumb", href: item.url || "#", title: titleOf(item), "data-viewer-index": position,
  }, src ? el("img", { src, alt: item.filename, loading: "lazy" }) : el("span", { className: "not-on-disk", text: "not on disk" }));
  return el("li", { className: "thumb", style: { "--ar": aspectOf(item).toFixed(4) } }, link);
}

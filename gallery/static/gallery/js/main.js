// Wires the page: the viewer over its thumbnails, in-place editing, live updates, tidy filter URLs.
import { readPageData } from "./dom.js";
import { connect, SessionFollower, showSession } from "./live.js";
import { initFavourites, NotesEditor } from "./metadata.js";
import { thumbnailCell } from "./thumbs.js";
import { Viewer } from "./viewer.js";

const data = readPageData() || { images: [], sessions: {} };
const pagerLink = (rel) => document.querySelector(`.pager a[rel="${rel}"]`)?.getAttribute("href") || null;

function startViewer() {
  const dialog = document.querySelector("[data-viewer]");
  if (!dialog) return null;
  const viewer = new Viewer(dialog, {
    images: data.images, sessions: data.sessions, pageSession: data.session || null,
    previousPage: pagerLink("prev"), nextPage: pagerLink("next"),
  });
  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-viewer-index]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    viewer.open(Number(link.dataset.viewerIndex));
  });
  viewer.restore();
  return viewer;
}

// Bookmarkable filter URLs: fields left empty are not sent.
function tidyFilterForms() {
  for (const form of document.querySelectorAll("form[data-strip-empty]")) {
    form.addEventListener("submit", () => {
      for (const field of form.elements) {
        if (field.name && field.value === "") field.disabled = true;
      }
    });
  }
  // Back to the page with a bfcache copy: fields disabled above are usable again.
  window.addEventListener("pageshow", () => {
    for (const field of document.querySelectorAll("form[data-strip-empty] [disabled]")) field.disabled = false;
  });
}

function startLive(viewer) {
  const cards = new Map([...document.querySelectorAll("[data-session-grid] [data-session]")]
    .map((card) => [card.dataset.session, card]));
  const head = document.querySelector("[data-session-head]");
  if (!cards.size && !head) return;
  const indicator = document.querySelector("[data-live-indicator]");
  let follower = null;
  if (head && data.session && data.images_api) {
    const list = document.querySelector("[data-thumbs]");
    follower = new SessionFollower({
      session: data.session, imagesApi: data.images_api, filters: data.filters || "", images: data.images,
      lastPage: Boolean(data.last_page), status: data.status,
      onImages: (items) => {
        const start = viewer ? viewer.images.length : 0;
        for (const [offset, item] of items.entries()) {
          const cell = thumbnailCell(item, start + offset);
          cell.classList.add("is-new");
          list.append(cell);
        }
        document.querySelector("[data-empty]")?.remove();
        if (viewer) viewer.add(items);
      },
    });
  }
  connect(document.body.dataset.streamUrl, (event) => {
    const card = cards.get(event.session_id);
    if (card) showSession(card, event);
    if (follower && follower.handle(event)) showSession(head, event);
  }, {
    onState: (state) => {
      document.body.dataset.live = state;
      if (indicator) indicator.hidden = state !== "live";
      if (state === "live" && follower) follower.catchUp();
    },
  });
}

// A thumbnail whose file is gone (a session missing from disk) leaves its tile empty, not a
// broken-image icon.
const TILE_IMAGES = ".card-cover img, .thumb img, .single-thumb img";
document.addEventListener("error", (event) => {
  if (event.target instanceof HTMLImageElement && event.target.matches(TILE_IMAGES)) {
    event.target.classList.add("is-broken");
  }
}, true);
for (const image of document.querySelectorAll(TILE_IMAGES)) {
  if (image.complete && image.naturalWidth === 0) image.classList.add("is-broken"); // failed before we listened
}

const viewer = startViewer();
initFavourites(document);
const notes = document.querySelector("[data-notes] [data-tags]");
if (notes) new NotesEditor(notes.closest("[data-notes]"));
tidyFilterForms();
startLive(viewer);

// Live updates: the pages listen to GET /api/stream (Server-Sent Events, SPEC section 10):
//   event: session
//   id: <a cursor that only grows>
//   data: {"session_id", "status", "images_actual", "images_expected", "completion_percentage",
//          "thumbnail_url", "updated_at"}
// EventSource resumes after a dropped connection by itself (Last-Event-ID). A stream that
// answers anything but an event stream (404 on a server without it) leaves the page as it was.
import { barWidth, countText } from "./dom.js";

const CLOSED = 2;
const RETRY_AFTER_MS = [5000, 15000, 60000];

// Opens the stream; onState gets "live", "reconnecting" or "unavailable".
export function connect(url, onSession, { onState = () => {}, EventSourceImpl = window.EventSource,
                                          setTimer = setTimeout } = {}) {
  if (!url || typeof EventSourceImpl !== "function") {
    onState("unavailable");
    return null;
  }
  let everOpen = false;
  let failures = 0;
  let source = null;
  const open = () => {
    source = new EventSourceImpl(url, { withCredentials: true });
    source.addEventListener("open", () => {
      everOpen = true;
      failures = 0;
      onState("live");
    });
    source.addEventListener("session", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return; // not ours to break the page over
      }
      if (data && typeof data.session_id === "string") onSession(data, event.lastEventId);
    });
    source.addEventListener("error", () => {
      if (source.readyState !== CLOSED) {
        onState("reconnecting"); // the browser retries, sending Last-Event-ID
        return;
      }
      // Refused outright: a server without the stream (404) is left alone; one that had it
      // (a proxy's 502 during a restart) is tried again later.
      if (!everOpen || failures >= RETRY_AFTER_MS.length) {
        onState("unavailable");
        return;
      }
      onState("reconnecting");
      setTimer(open, RETRY_AFTER_MS[failures++]);
    });
  };
  open();
  return { close: () => source && source.close() };
}

// Status badge, count, progress bar and cover of an element that shows a session: a card of
// the grid or a session page's head ([data-field] children).
export function showSession(root, data) {
  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const badge = field("status");
  if (badge && data.status) {
    badge.textContent = data.status;
    badge.className = `badge status-${data.status}`;
  }
  const count = field("count");
  if (count && Number.isInteger(data.images_actual)) {
    count.textContent = countText(data.images_actual, data.images_expected);
  }
  const bar = field("bar");
  if (bar) {
    bar.style.width = barWidth(data.completion_percentage);
    if (data.status) bar.parentElement.dataset.status = data.status;
    bar.parentElement.title = data.completion_percentage === null || data.completion_percentage === undefined
      ? "no expected count" : `${Number(data.completion_percentage).toFixed(1)} %`;
  }
  const cover = field("cover");
  if (cover && data.thumbnail_url) {
    if (cover.tagName === "IMG") {
      if (cover.getAttribute("src") !== data.thumbnail_url) cover.src = data.thumbnail_url;
    } else {
      const image = document.createElement("img");
      image.src = data.thumbnail_url;
      image.alt = "";
      image.dataset.field = "cover";
      cover.replaceWith(image);
    }
  }
}

// A session page: when its session has more images than the page knows, fetch those after the
// last index it has (GET …/images/?since=K, with the page's own filters) and hand them over.
export class SessionFollower {
  constructor({ session, imagesApi, filters = "", images = [], lastPage = true, status = null,
                onImages = () => {}, fetchImpl = (...args) => fetch(...args) }) {
    this.session = session;
    this.imagesApi = imagesApi;
    this.filters = filters.replace(/^\?/, "");
    this.lastPage = lastPage;
    this.status = status;
    this.onImages = onImages;
    this.fetchImpl = fetchImpl;
    this.known = new Set(images.map((item) => item.filename));
    this.lastIndex = images.reduce((highest, item) => (Number.isInteger(item.index) && item.index > highest
      ? item.index : highest), -1);
    this.seenCount = null;
    this.busy = false;
    this.again = false;
  }

  // One event of the stream; true when it was about this page's session.
  handle(data) {
    if (data.session_id !== this.session) return false;
    if (data.status) this.status = data.status;
    const grew = this.seenCount === null || data.images_actual > this.seenCount;
    this.seenCount = data.images_actual;
    if (grew) this.fetchNew();
    return true;
  }

  // After (re)connecting: what may have come between the page's rendering and the stream.
  catchUp() {
    if (this.status === "ongoing") this.fetchNew();
  }

  async fetchNew() {
    if (!this.lastPage) return; // new images go at the end, on the last page
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        const query = [`since=${this.lastIndex}`, "limit=500", this.filters].filter(Boolean).join("&");
        // Never the browser's cached copy: each fetch follows a change, and a copy the server
        // read while that change was being written would otherwise be confirmed by a 304.
        const response = await this.fetchImpl(`${this.imagesApi}?${query}`, {
          credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store",
        });
        if (!response.ok) return;
        const body = await response.json();
        const fresh = (body.images || []).filter((item) => !this.known.has(item.filename));
        for (const item of fresh) {
          this.known.add(item.filename);
          if (Number.isInteger(item.index) && item.index > this.lastIndex) this.lastIndex = item.index;
        }
        if (fresh.length) this.onImages(fresh);
        if (body.next) this.again = true;
      } while (this.again);
    } catch {
      // a dropped request: the next event asks again
    } finally {
      this.busy = false;
    }
  }
}

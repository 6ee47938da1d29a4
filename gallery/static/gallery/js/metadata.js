// Favourite, rating, tags and note, edited in place: each change is one PATCH of the API's
// metadata endpoint (its validation, its permission rule); a refusal is said on the page.
import { csrfToken, el, toast } from "./dom.js";

const FIELD_NAMES = {
  is_favorite: "Favourite", user_rating: "Rating", tags: "Tags", user_note: "Note", detail: "",
};

function messagesOf(value) {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(messagesOf);
  if (value && typeof value === "object") return Object.values(value).flatMap(messagesOf);
  return [];
}

// What the API said, as one sentence: {"detail": "…"} or {"tags": ["…"]} or {"tags": {"3": ["…"]}}.
export function describeRefusal(status, body) {
  if (body && typeof body === "object") {
    const parts = Object.entries(body).map(([field, value]) => {
      const label = FIELD_NAMES[field] ?? field;
      const text = messagesOf(value).join(" ");
      return label ? `${label}: ${text}` : text;
    }).filter(Boolean);
    if (parts.length) return parts.join(" ");
  }
  if (status === 403) return "You may not change this.";
  return `The server answered ${status}.`;
}

export async function patchMetadata(url, changes, { fetchImpl = fetch, doc = document } = {}) {
  let response;
  try {
    response = await fetchImpl(url, {
      method: "PATCH",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken(doc) },
      body: JSON.stringify(changes),
    });
  } catch {
    return { ok: false, message: "Not saved: the server could not be reached." };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.ok && body) return { ok: true, data: body };
  return { ok: false, status: response.status, message: `Not saved. ${describeRefusal(response.status, body)}` };
}

function setFavourite(button, on) {
  button.setAttribute("aria-pressed", on ? "true" : "false");
  button.textContent = on ? "★" : "☆";
}

// Every favourite star of the page ([data-favourite]): the grid's and a session's.
export function initFavourites(root = document, { report = (message) => toast(message, { error: true }) } = {}) {
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-favourite]");
    if (!button || button.getAttribute("aria-busy") === "true") return;
    const wanted = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-busy", "true");
    const result = await patchMetadata(button.dataset.metadataUrl, { is_favorite: wanted });
    button.removeAttribute("aria-busy");
    if (result.ok) {
      setFavourite(button, result.data.is_favorite);
    } else {
      report(result.message);
    }
  });
}

// The "Your notes" panel of a session page.
export class NotesEditor {
  constructor(section) {
    this.section = section;
    this.url = section.dataset.metadataUrl;
    this.status = section.querySelector("[data-notes-status]");
    this.tagList = section.querySelector("[data-tags]");
    this.tagInput = section.querySelector("[data-tag-input]");
    this.note = section.querySelector("[data-note]");
    this.tags = [...this.tagList.querySelectorAll("[data-tag]")].map((node) => node.dataset.tag);
    this.bind();
  }

  bind() {
    for (const button of this.section.querySelectorAll("[data-rating]")) {
      button.addEventListener("click", () => this.save(() => {
        const pressed = button.getAttribute("aria-pressed") === "true"; // as the last save left it
        return { user_rating: pressed ? null : button.dataset.rating };
      }));
    }
    this.tagList.addEventListener("click", (event) => {
      const remove = event.target.closest("[data-remove-tag]");
      if (!remove) return;
      const tag = remove.closest("[data-tag]").dataset.tag;
      this.save(() => ({ tags: this.tags.filter((name) => name !== tag) }));
    });
    this.tagInput.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== ",") return;
      event.preventDefault();
      const added = this.tagInput.value.split(",").map((name) => name.trim()).filter(Boolean);
      if (added.length) this.save(() => ({ tags: [...this.tags, ...added] }), () => { this.tagInput.value = ""; });
    });
    this.section.querySelector("[data-save-note]").addEventListener("click", () => this.saveNote());
    this.note.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.saveNote();
      }
    });
  }

  saveNote() {
    this.save({ user_note: this.note.value });
  }

  // Saves go one at a time, each worked out from what the one before it saved: two quick
  // changes (a rating, then a tag) would otherwise race, and the later answer to arrive would
  // show the page a state older than the server's.
  save(changes, onSaved = () => {}) {
    const run = () => this.send(typeof changes === "function" ? changes() : changes, onSaved);
    this.queue = (this.queue ?? Promise.resolve()).then(run, run);
    return this.queue;
  }

  async send(changes, onSaved) {
    this.say("Saving…");
    const result = await patchMetadata(this.url, changes);
    if (!result.ok) {
      this.say(result.message, true);
      return;
    }
    this.show(result.data);
    onSaved();
    this.say("Saved.");
  }

  show(metadata) {
    for (const button of this.section.querySelectorAll("[data-rating]")) {
      button.setAttribute("aria-pressed", metadata.user_rating === button.dataset.rating ? "true" : "false");
    }
    this.tags = metadata.tags;
    this.tagList.replaceChildren(...metadata.tags.map((tag) => el("li", { className: "tag", "data-tag": tag }, tag,
      el("button", { type: "button", "data-remove-tag": true, "aria-label": `Remove the tag ${tag}`, text: "×" }))));
    this.note.value = metadata.user_note;
    for (const star of document.querySelectorAll("[data-favourite]")) {
      if (star.dataset.metadataUrl === this.url) setFavourite(star, metadata.is_favorite);
    }
  }

  say(message, error = false) {
    this.status.textContent = message;
    this.status.classList.toggle("is-error", error);
  }
}

"""A session's image rows: what to insert, update and delete, and their search texts.

Planned before the batch's transaction (files' headers and embedded parameters are read then,
only for new or changed files), written inside it. An image its session's manifest describes
takes its prompt and seed from there (generator "sdgen"); any other image says what it is
through the parameters it carries (``sessions.image_parameters``), and a folder without a
manifest gets its stats from those (``sessions.stats.stats_from_images``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sessions.image_parameters import ImageParameters, UnreadableImage, read_image_parameters
from sessions.models import ImageText, Session, SessionImage, integer_range
from sessions.reading import FolderRead
from sessions.scanning import read_image_size
from sessions.search.documents import TextFolder, session_words, text_digest
from sessions.stats import ImageFacts, StatsData, completion_percentage, stats_from_images

logger = logging.getLogger(__name__)

SDGEN = "sdgen"
_MAX_FILENAME: int = SessionImage._meta.get_field("filename").max_length  # type: ignore[union-attr,assignment]
_INDEX_RANGE = integer_range(SessionImage, "index")
_SEED_RANGE = integer_range(SessionImage, "seed")
_SIDE_MAX = min(integer_range(SessionImage, "width")[1], integer_range(SessionImage, "height")[1])
# Compared with what is stored to decide whether a row changed; in SessionImage field order.
IMAGE_FIELDS = ["index", "seed", "prompt", "negative_prompt", "applied_variations", "file_size", "mtime_ns",
                "generator", "params"]
_SIZE, _MTIME, _PARAMS = IMAGE_FIELDS.index("file_size"), IMAGE_FIELDS.index("mtime_ns"), IMAGE_FIELDS.index("params")


class _Made(NamedTuple):
    """How one image was made, as far as its row goes."""

    seed: int | None
    prompt: str | None
    negative_prompt: str | None
    generator: str | None
    params: dict[str, Any] | None


@dataclass
class ImagePlan:
    session_words: str = ""
    # New rows as tuples in SessionImageQuerySet.INSERT_FIELDS order, without the session id and
    # with the text's digest in place of its id (known once the batch's texts are stored).
    create: list[tuple] = field(default_factory=list)
    update: list[tuple[SessionImage, str | None]] = field(default_factory=list)  # with its text's digest
    delete: list[int] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # digest → text, the session's distinct ones
    unreadable: int = 0  # files that are not readable images


class ImagePlanner:
    def __init__(self, *, results_dir: str | os.PathLike[str], rebuild: bool) -> None:
        self.results_dir = results_dir
        self.rebuild = rebuild
        self.texts = TextFolder()

    def stored(self, session_ids: list[int]) -> dict[int, dict[str, tuple]]:
        """What is stored of these sessions' images: session id → filename → (pk, *IMAGE_FIELDS,
        width, height, text digest)."""
        found: dict[int, dict[str, tuple]] = {}
        if session_ids:
            rows = SessionImage.objects.filter(session_id__in=session_ids).values_list(
                "session_id", "filename", "pk", *IMAGE_FIELDS, "width", "height", "text__digest")
            for session_id, filename, *values in rows.order_by():
                found.setdefault(session_id, {})[filename] = tuple(values)
        return found

    def plan(self, read: FolderRead, stored: dict[str, tuple]) -> ImagePlan:
        """Decide which rows to insert, update and delete. For a folder without a manifest, also
        set ``read.stats`` (and its counts) from what its images carry."""
        stored = {} if self.rebuild else dict(stored)
        folder = os.path.join(self.results_dir, read.name)
        plan = ImagePlan()
        made = [self._made(record, stored.get(record.filename), folder, plan) for record in read.records]
        if read.listing is not None and not read.listing.has_manifest:
            _derive_stats(read, made)
        plan.session_words = session_words(name=read.name, model=read.stats.sd_model if read.stats else None)
        image_text = self.texts.image_text
        digests: dict[str, str] = {}
        for record, how in zip(read.records, made):
            if len(record.filename) > _MAX_FILENAME:
                continue  # a manifest entry no file on disk could match
            # Inline range checks (fit_to_column's, for the columns of a hot loop).
            index, seed = record.index, how.seed
            if index is not None and not _INDEX_RANGE[0] <= index <= _INDEX_RANGE[1]:
                index = None
            if seed is not None and not _SEED_RANGE[0] <= seed <= _SEED_RANGE[1]:
                seed = None
            values = (index, seed, how.prompt, how.negative_prompt, record.applied_variations, record.file_size,
                      record.mtime_ns, how.generator, how.params)
            own_model = how.params.get("sd_model") if how.params else None
            text = image_text(prompt=how.prompt, negative_prompt=how.negative_prompt,
                              variations=record.applied_variations, model=own_model)
            digest = digests.get(text) if text else None
            if text and digest is None:
                digest = digests[text] = text_digest(text)
                plan.texts[digest] = text
            previous = stored.pop(record.filename, None)
            size = None
            if previous is not None:
                pk, *old_values, width, height, old_digest = previous
                same_file = (old_values[_SIZE], old_values[_MTIME]) == (record.file_size, record.mtime_ns)
                if same_file and (width is not None or not record.exists):
                    if tuple(old_values) == values and old_digest == digest:
                        continue
                    size = (width, height) if width is not None else None
            if record.exists and size is None:
                size = read_image_size(f"{folder}/{record.filename}")
            width, height = size if size and max(size) <= _SIDE_MAX else (None, None)
            if previous is None:
                plan.create.append((record.filename, *values, width, height, digest))
            else:
                plan.update.append((SessionImage(pk=pk, filename=record.filename, width=width, height=height,
                                                 **dict(zip(IMAGE_FIELDS, values))), digest))
        plan.delete = [previous[0] for previous in stored.values()]
        return plan

    @staticmethod
    def _made(record: Any, previous: tuple | None, folder: str, plan: ImagePlan) -> _Made:
        """How the image was made: from the manifest, from what was read of it before (the
        file unchanged), or from its own metadata, read now."""
        if record.described or not record.exists:
            return _Made(record.seed, record.prompt, record.negative_prompt, SDGEN if record.described else None, None)
        if previous is not None:
            old = previous[1:]
            unchanged = (old[_SIZE], old[_MTIME]) == (record.file_size, record.mtime_ns)
            if unchanged and old[_PARAMS] is not None:  # read before (params {} if it carried none)
                seed, prompt, negative = old[IMAGE_FIELDS.index("seed")], old[2], old[3]
                return _Made(seed, prompt, negative, old[IMAGE_FIELDS.index("generator")], old[_PARAMS])
        found = read_image_parameters(f"{folder}/{record.filename}")
        if isinstance(found, UnreadableImage):
            plan.unreadable += 1
            logger.warning("%s/%s is not a readable image: %s", os.path.basename(folder), record.filename,
                           found.reason)
        if not isinstance(found, ImageParameters):
            return _Made(record.seed, None, None, None, {})
        seed = found.seed if found.seed is not None else record.seed
        return _Made(seed, _no_nul(found.prompt), _no_nul(found.negative_prompt), found.generator,
                     {key: _no_nul(value) for key, value in found.params.items()})


def _no_nul(value: Any) -> Any:
    # An image's text may hold NUL characters; no database column can store one.
    return value.replace("\x00", "") if isinstance(value, str) else value


def _derive_stats(read: FolderRead, made: list[_Made]) -> None:
    """A folder without a manifest: its stats from its images' parameters (SPEC section 3);
    every image it holds is expected, so it is complete."""
    facts = [ImageFacts(how.prompt, how.negative_prompt, how.seed, how.params or {}, record.mtime_ns)
             for record, how in zip(read.records, made) if record.exists]
    stats: StatsData | None = stats_from_images(facts)
    read.stats = stats
    if stats is not None and read.counts is not None:
        actual = read.counts.images_actual
        read.counts = type(read.counts)(actual, actual, completion_percentage(actual, actual))


def store_texts(plans: dict[str, ImagePlan]) -> dict[str, int]:
    """The ids of the batch's image texts, storing those not stored yet (digest → id)."""
    texts = {digest: text for plan in plans.values() for digest, text in plan.texts.items()}
    if not texts:
        return {}
    ids: dict[str, int] = {}
    digests = list(texts)
    for start in range(0, len(digests), 1000):  # within any database's limit of parameters
        chunk = digests[start:start + 1000]
        ids.update(ImageText.objects.filter(digest__in=chunk).values_list("digest", "id"))
    missing = [ImageText(digest=digest, text=texts[digest]) for digest in digests if digest not in ids]
    if missing:
        ImageText.objects.bulk_create(missing, ignore_conflicts=True)  # another writer may store one too
        for start in range(0, len(missing), 1000):
            chunk = [text.digest for text in missing[start:start + 1000]]
            ids.update(ImageText.objects.filter(digest__in=chunk).values_list("digest", "id"))
    return ids


def write_images(plans: dict[str, ImagePlan], sessions: dict[str, Session]) -> tuple[int, int]:
    """Store the planned rows (inside the batch's transaction); (written, deleted)."""
    text_ids = store_texts(plans)
    to_create, to_update, to_delete = [], [], []
    for name, plan in plans.items():
        session_id = sessions[name].pk
        to_create += [(session_id, *row[:-1], text_ids.get(row[-1]) if row[-1] else None) for row in plan.create]
        for image, digest in plan.update:
            image.session_id = session_id
            image.text_id = text_ids.get(digest) if digest else None
            to_update.append(image)
        to_delete += plan.delete
    if to_delete:
        SessionImage.objects.filter(pk__in=to_delete).delete()
    SessionImage.objects.insert_rows(to_create)
    if to_update:
        SessionImage.objects.bulk_update(to_update, [*IMAGE_FIELDS, "width", "height", "text"], batch_size=500)
    return len(to_create) + len(to_update), len(to_delete)

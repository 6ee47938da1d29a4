"""JSON shapes of the API (SPEC section 8). Writes validate here and go through services."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from rest_framework import serializers

from sessions.image_files import is_thumbnail_source
from sessions.image_parameters import PARAM_KEYS
from sessions.links import image_url
from sessions.models import (
    Event,
    Session,
    SessionImage,
    SessionMetadata,
    SessionStats,
    SessionStatus,
    UserRating,
)
from sessions.services.metadata import MAX_NOTE_LENGTH, MAX_TAG_LENGTH, MAX_TAGS, normalize_tags
from sessions.stats_object import FIELDS as STATS_FIELDS
from sessions.stats_object import iso8601, stats_object


class RejectUnknownFieldsMixin(serializers.Serializer):
    """A body field the serializer does not know, or may not change, is a 400 naming it."""

    rejects_unknown_fields = True  # the OpenAPI document says additionalProperties: false

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors = {}
            for name in data:
                field = self.fields.get(name)
                if field is None:
                    errors[name] = ["Unknown field."]
                elif field.read_only:
                    errors[name] = ["This field cannot be changed."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class MillisecondsField(serializers.DateTimeField):
    """UTC with milliseconds and a Z: 2025-11-07T12:31:00.123Z."""

    def to_representation(self, value: datetime) -> str:
        value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class StatsSerializer(serializers.ModelSerializer):
    images_expected = serializers.IntegerField(source="session.images_expected", allow_null=True)
    images_actual = serializers.IntegerField(source="session.images_actual")
    completion_percentage = serializers.FloatField(source="session.completion_percentage", allow_null=True)
    session_created_at = serializers.DateTimeField(source="session.created_at")
    placeholders = serializers.DictField(child=serializers.IntegerField())
    variations_summary = serializers.DictField(child=serializers.ListField())

    class Meta:
        model = SessionStats
        fields = STATS_FIELDS
        read_only_fields = fields

    def to_representation(self, stats: SessionStats) -> dict[str, Any]:
        # The same output as DRF's field-by-field serialization (tests compare the two), at a
        # fraction of the cost: lists of 500 sessions are read often.
        return stats_object(stats, stats.session)


class MetadataSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    session_id = serializers.CharField(source="session.name", read_only=True)
    user_rating = serializers.ChoiceField(
        choices=UserRating.choices, allow_null=True, required=False,
        error_messages={"invalid_choice": f"'{{input}}' is not one of: {', '.join(UserRating.values)}, or null."})
    user_note = serializers.CharField(max_length=MAX_NOTE_LENGTH, allow_blank=True, trim_whitespace=False,
                                      required=False)
    tags = serializers.ListField(
        source="tag_list",
        child=serializers.CharField(max_length=MAX_TAG_LENGTH, allow_blank=False, trim_whitespace=True),
        max_length=MAX_TAGS, required=False,
        help_text=f"Up to {MAX_TAGS} tags of 1 to {MAX_TAG_LENGTH} characters; trimmed, duplicates dropped, "
                  "order kept. Replaces the whole list.",
    )
    created_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null until first set.")
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="Null until first set.")

    class Meta:
        model = SessionMetadata
        fields = ["session_id", "is_test", "is_complete", "is_favorite", "user_rating", "user_note", "tags",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"is_test": {"required": False}, "is_complete": {"required": False},
                        "is_favorite": {"required": False}}

    def validate_tags(self, tags: list[str]) -> list[str]:
        try:
            return normalize_tags(tags)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "tag_list" in attrs:
            attrs["tags"] = attrs.pop("tag_list")
        return attrs

    def to_representation(self, metadata: SessionMetadata) -> dict[str, Any]:
        return {
            "session_id": metadata.session.name,
            "is_test": metadata.is_test,
            "is_complete": metadata.is_complete,
            "is_favorite": metadata.is_favorite,
            "user_rating": metadata.user_rating,
            "user_note": metadata.user_note,
            "tags": metadata.tag_list,
            "created_at": iso8601(metadata.created_at),
            "updated_at": iso8601(metadata.updated_at),
        }


class SessionSerializer(serializers.ModelSerializer):
    # context["fields"]: only those fields (fields=), each built only when asked for; the OpenAPI
    # document says any may be left out.
    sparse = True
    session_id = serializers.CharField(source="name")
    session_path = serializers.CharField(source="name", help_text="Relative to the results folder.")
    thumbnail_url = serializers.SerializerMethodField(help_text="The first PNG's thumbnail, null without one.")
    # Nested serializers declared once (not built per item): a page of 100 costs 100 times less set-up.
    stats = StatsSerializer(read_only=True, allow_null=True, help_text="Null without a readable manifest.")
    metadata = MetadataSerializer(read_only=True, allow_null=True, help_text="Null until first set.")

    class Meta:
        model = Session
        fields = ["session_id", "uuid", "session_path", "created_at", "status", "has_manifest", "is_missing",
                  "sync_error", "images_actual", "images_expected", "completion_percentage", "thumbnail_url",
                  "stats", "metadata"]
        read_only_fields = fields

    def get_thumbnail_url(self, session: Session) -> str | None:
        cover = getattr(session, "cover_image", None)
        return image_url(session.name, cover, thumbnail=True) if cover else None

    def to_representation(self, session: Session) -> dict[str, Any]:
        # Field by field from one table (_SESSION_FIELDS), without a field object per value; with
        # fields=, only what was asked for is built (stats and metadata are the costly parts).
        wanted = self.context.get("fields")
        names = self.Meta.fields if wanted is None else [name for name in self.Meta.fields if name in wanted]
        return {name: _SESSION_FIELDS[name](self, session) for name in names}

    def _stats(self, session: Session) -> dict[str, Any] | None:
        stats = getattr(session, "stats", None)
        return self.fields["stats"].to_representation(stats) if stats is not None else None

    def _metadata(self, session: Session) -> dict[str, Any] | None:
        metadata = getattr(session, "metadata", None)
        return self.fields["metadata"].to_representation(metadata) if metadata is not None else None


# How each field of a session item is built (all of them, or those ``fields=`` names).
_SESSION_FIELDS: dict[str, Callable[[SessionSerializer, Session], Any]] = {
    "session_id": lambda _, s: s.name,
    "uuid": lambda _, s: str(s.uuid),
    "session_path": lambda _, s: s.name,
    "created_at": lambda _, s: iso8601(s.created_at),
    "status": lambda _, s: s.status,
    "has_manifest": lambda _, s: s.has_manifest,
    "is_missing": lambda _, s: s.is_missing,
    "sync_error": lambda _, s: s.sync_error,
    "images_actual": lambda _, s: s.images_actual,
    "images_expected": lambda _, s: s.images_expected,
    "completion_percentage": lambda _, s: s.completion_percentage,
    "thumbnail_url": SessionSerializer.get_thumbnail_url,
    "stats": SessionSerializer._stats,
    "metadata": SessionSerializer._metadata,
}


class EventSerializer(serializers.ModelSerializer):
    session_id = serializers.CharField(source="session.name")
    timestamp = MillisecondsField()

    class Meta:
        model = Event
        fields = ["record_id", "session_id", "kind", "from_status", "to_status", "source", "performer_id", "reason",
                  "timestamp"]
        read_only_fields = fields


def image_params(image: SessionImage, stats: SessionStats | None) -> dict[str, Any]:
    """The settings an image was made with: its own (other generators), else its session's
    manifest's (sdgen); each null when unknown."""
    if image.params is not None:
        return {key: image.params.get(key) for key in PARAM_KEYS}
    return {key: getattr(stats, key) if stats is not None else None for key in PARAM_KEYS}


class ImageSerializer(serializers.ModelSerializer):
    """An image item. The session comes from ``context["session"]`` (a session's images) or
    from ``image.session`` (images across the library, with its stats)."""

    # context["fields"]: only those fields (fields=); the OpenAPI document says any may be left out.
    sparse = True

    session_id = serializers.SerializerMethodField(help_text="The session's name.")
    generator = serializers.CharField(allow_null=True, help_text='"sdgen", or the generator whose parameters the '
                                                                 "image carries (AUTOMATIC1111, ComfyUI, InvokeAI, "
                                                                 "NovelAI, Fooocus); null when unknown.")
    params = serializers.DictField(help_text="sd_model, sampler_name, scheduler, steps, cfg_scale, width, height; "
                                             "each null when unknown.")
    created_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="The file's mtime.")
    exists = serializers.BooleanField(read_only=True, help_text="False: in the manifest, not on disk.")
    applied_variations = serializers.DictField(child=serializers.CharField(allow_null=True))
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = SessionImage
        fields = ["session_id", "filename", "index", "generator", "seed", "prompt", "negative_prompt", "params",
                  "applied_variations", "width", "height", "file_size", "created_at", "exists", "url",
                  "thumbnail_url"]
        read_only_fields = fields

    def _session(self, image: SessionImage) -> Session:
        return self.context.get("session") or image.session

    def _session_name(self, image: SessionImage) -> str:
        return self._session(image).name

    def get_session_id(self, image: SessionImage) -> str:
        return self._session_name(image)

    def get_url(self, image: SessionImage) -> str | None:
        return image_url(self._session_name(image), image.filename) if image.exists else None

    def get_thumbnail_url(self, image: SessionImage) -> str | None:
        if not image.exists or not is_thumbnail_source(image.filename):
            return None
        return image_url(self._session_name(image), image.filename, thumbnail=True)

    def to_representation(self, image: SessionImage) -> dict[str, Any]:
        # Field by field from one table (_IMAGE_FIELDS), as DRF would (tests compare the two).
        wanted = self.context.get("fields")
        names = self.Meta.fields if wanted is None else [name for name in self.Meta.fields if name in wanted]
        return {name: _IMAGE_FIELDS[name](self, image) for name in names}

    def _params(self, image: SessionImage) -> dict[str, Any]:
        return image_params(image, getattr(self._session(image), "stats", None))


# How each field of an image item is built (all of them, or those ``fields=`` names).
_IMAGE_FIELDS: dict[str, Callable[[ImageSerializer, SessionImage], Any]] = {
    "session_id": ImageSerializer.get_session_id,
    "filename": lambda _, i: i.filename,
    "index": lambda _, i: i.index,
    "generator": lambda _, i: i.generator,
    "seed": lambda _, i: i.seed,
    "prompt": lambda _, i: i.prompt,
    "negative_prompt": lambda _, i: i.negative_prompt,
    "params": ImageSerializer._params,
    "applied_variations": lambda _, i: i.applied_variations,
    "width": lambda _, i: i.width,
    "height": lambda _, i: i.height,
    "file_size": lambda _, i: i.file_size,
    "created_at": lambda _, i: iso8601(i.created_at),
    "exists": lambda _, i: i.exists,
    "url": ImageSerializer.get_url,
    "thumbnail_url": ImageSerializer.get_thumbnail_url,
}


class StatusChangeSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    reason = serializers.CharField(max_length=1000, allow_blank=False, trim_whitespace=True,
                                   help_text="Why the status is being changed by hand (required).")


class GlobalStatsSerializer(serializers.Serializer):
    total_sessions = serializers.IntegerField()
    sessions_ongoing = serializers.IntegerField()
    sessions_completed = serializers.IntegerField()
    sessions_aborted = serializers.IntegerField()
    total_images = serializers.IntegerField()
    favorite_sessions = serializers.IntegerField()
    computed_at = serializers.DateTimeField()

    def to_representation(self, instance: Mapping[str, Any]) -> dict[str, Any]:
        # Every poll of /api/stats builds this: directly, as DRF's fields would (a test compares
        # the two), rather than through a fresh copy of each declared field per answer.
        counts = {name: int(instance[name]) for name in _GLOBAL_COUNTS}
        return {**counts, "computed_at": iso8601(instance["computed_at"])}


_GLOBAL_COUNTS = [name for name, field in GlobalStatsSerializer._declared_fields.items()
                  if isinstance(field, serializers.IntegerField)]


class WatcherHealthSerializer(serializers.Serializer):
    running = serializers.BooleanField()
    mode = serializers.CharField(allow_null=True)
    last_event_at = serializers.DateTimeField(allow_null=True)
    last_sync_at = serializers.DateTimeField(allow_null=True)
    sessions_watched = serializers.IntegerField(allow_null=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "warning"], help_text="warning: see problems.")
    watcher = WatcherHealthSerializer()
    problems = serializers.ListField(child=serializers.CharField(),
                                     help_text="What needs a person, e.g. a results folder that looks wrong.")


class EventListSerializer(serializers.Serializer):
    events = EventSerializer(many=True)

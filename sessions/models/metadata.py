"""What people say about a session: rating, notes, tags; and the words search looks in."""

from __future__ import annotations

from django.db import models

from sessions.models.session import Session


class UserRating(models.TextChoices):
    LIKE = "like"
    DISLIKE = "dislike"


class SessionMetadata(models.Model):
    """What the user says about a session. Kept through rebuilds and disappearances."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True, related_name="metadata")
    is_test = models.BooleanField(default=False, db_index=True)
    is_complete = models.BooleanField(default=False)
    is_favorite = models.BooleanField(default=False, db_index=True)
    user_rating = models.CharField(max_length=8, choices=UserRating.choices, null=True, blank=True)
    user_note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    # Folded tags and note (sessions.search.documents), indexed for search.
    search_text = models.TextField(default="", blank=True, editable=False)

    class Meta:
        verbose_name_plural = "session metadata"
        # The "liked" filter walks the favourites (with what "complete" needs) in this index alone:
        # at 100,000 sessions, a filtered list page in a third of the time of table lookups.
        indexes = [models.Index(fields=["is_favorite", "session", "is_complete"], name="metadata_favourites")]

    def __str__(self) -> str:
        return f"metadata of {self.session_id}"

    @property
    def tag_list(self) -> list[str]:
        """Tag names in the user's order (uses prefetched tags when there are)."""
        if self._state.adding:
            return []
        return [tag.name for tag in self.tags.all()]


class SessionTag(models.Model):
    """One tag of a session's metadata; ``position`` keeps the user's order."""

    metadata = models.ForeignKey(SessionMetadata, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=64, db_index=True)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["metadata", "position"]
        constraints = [models.UniqueConstraint(fields=["metadata", "name"], name="unique_tag_per_session")]

    def __str__(self) -> str:
        return self.name


class ImageText(models.Model):
    """One distinct search text of images (folded, ``sessions.search.documents``); the full-text
    index follows it inside the database. Identified by its SHA-1, written once."""

    digest = models.CharField(max_length=40, unique=True)
    text = models.TextField()

    def __str__(self) -> str:
        return self.text[:60]


class SessionSearch(models.Model):
    """What search finds a session by: its own words (name, model, tags, note) and the words of
    its images (their distinct prompts, negative prompts, variation values), folded
    (sessions.search.documents); the full-text index follows it inside the database."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, primary_key=True, related_name="search")
    own_text = models.TextField(default="", blank=True)
    images_text = models.TextField(default="", blank=True)

    class Meta:
        verbose_name_plural = "session search documents"

    def __str__(self) -> str:
        return f"search document of {self.session_id}"

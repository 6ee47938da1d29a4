"""The library's change feed: every write that changes what a list shows of a session gives it
the next change number, in the same transaction. The numbers only grow and are handed out in
commit order (the counter row is locked until commit), so ``change_seq > N`` is exactly what
happened after change N: the live stream (``/api/stream``) resumes from there."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from sessions.models import ChangeCounter, Session


def reserve_changes(count: int) -> int:
    """The first of ``count`` next change numbers, for rows about to be written with them; call
    inside the transaction that writes them (the counter stays locked until it commits)."""
    # The row lock (SQLite: the write lock) holds other writers until this one commits.
    counter = ChangeCounter.objects.select_for_update().get_or_create(pk=1)[0]
    first = counter.value + 1
    counter.value += count
    counter.changed_at = timezone.now()
    counter.save(update_fields=["value", "changed_at"])
    return first


def stamp_changes(session_ids: Sequence[int]) -> None:
    """Give these sessions the next change numbers; call inside the transaction that changed them."""
    ids = list(dict.fromkeys(session_ids))
    if not ids:
        return
    with transaction.atomic():
        first = reserve_changes(len(ids))
        table = connection.ops.quote_name(Session._meta.db_table)
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET change_seq = %s WHERE id = %s",
                               [(first + offset, pk) for offset, pk in enumerate(ids)])


def latest_change() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM gen_sessions_changecounter WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else 0

"""Failed-token counts, and the API tokens of earlier versions moved into hashed storage.

Earlier versions kept tokens in clear in Django REST framework's ``authtoken_token`` table.
Each is stored again as knox stores tokens (a SHA-512 digest), so every existing token keeps
working, and the clear-text table is dropped.
"""

import hashlib

from django.db import migrations, models

OLD_TABLE = "authtoken_token"


def move_clear_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {schema_editor.quote_name(OLD_TABLE)}")
        rows = cursor.fetchall()
    AuthToken.objects.bulk_create(
        [AuthToken(digest=hashlib.sha512(key.encode()).hexdigest(), token_key=key[:15], user_id=user_id,
                   expiry=None) for key, user_id, _ in rows],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {schema_editor.quote_name(OLD_TABLE)}")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [
        migrations.CreateModel(
            name="TokenFailureCount",
            fields=[
                ("address", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("failures", models.PositiveIntegerField(default=0)),
                ("window_started_at", models.DateTimeField(db_index=True)),
            ],
            options={
                "verbose_name": "failed token attempts",
                "verbose_name_plural": "failed token attempts",
            },
        ),
        migrations.RunPython(move_clear_tokens, migrations.RunPython.noop),
    ]

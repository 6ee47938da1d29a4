"""A Python client generated from /api/schema/ by openapi-python-client works as it comes: it
lists sessions, reads images and changes metadata against a running server."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from sessions.models import Session
from sessions.services import sync_sessions
from tests.conftest import token_client

pytestmark = pytest.mark.django_db(transaction=True)
pytest.importorskip("openapi_python_client", reason="openapi-python-client needs Python 3.11 or newer")

FACIAL = "20261121_043601-facial_expressions"


def generate_client(schema: bytes, target: Path) -> None:
    (target.parent / "schema.json").write_bytes(schema)
    done = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(target.parent / "schema.json"),
         "--output-path", str(target), "--meta", "none"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # Its only warning: an image file's body (image/*) is not something it generates code for.
    warnings = [line for line in done.stdout.splitlines() if line.startswith("WARNING")]
    assert all("/images/{filename}" in line for line in warnings), done.stdout


def test_a_generated_client_lists_reads_and_patches(live_server, results_dir: Path, settings, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SDGEN_RESULTS_DIR = results_dir
    sync_sessions(results_dir=results_dir)
    editor = token_client(username="eve", permissions=("change_sessionmetadata", "view_session"))
    token = editor._credentials["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    schema = editor.get("/api/schema/?format=json")
    assert schema.status_code == 200
    generate_client(schema.content, tmp_path / "sdgen_client")

    monkeypatch.syspath_prepend(str(tmp_path))
    package = importlib.import_module("sdgen_client")
    sessions_list = importlib.import_module("sdgen_client.api.sessions.sessions_list")
    patch_metadata = importlib.import_module("sdgen_client.api.sessions.sessions_metadata_partial_update")
    images_list = importlib.import_module("sdgen_client.api.images.images_list")
    models = importlib.import_module("sdgen_client.models")

    with package.AuthenticatedClient(base_url=live_server.url, token=token) as client:
        listed = sessions_list.sync(client=client, limit=2)
        assert isinstance(listed, models.PaginatedSessionList)
        assert listed.total_count == Session.objects.count() and len(listed.sessions) == 2

        images = images_list.sync(client=client, session=FACIAL, limit=10)
        assert isinstance(images, models.PaginatedImageList)
        assert images.images and all(image.session_id for image in images.images)
        assert all(image.prompt for image in images.images)

        changed = patch_metadata.sync(FACIAL, client=client,
                                      body=models.PatchedMetadataRequest(is_favorite=True, tags=["keeper"]))
        assert isinstance(changed, models.Metadata) and changed.is_favorite and changed.tags == ["keeper"]
        refused = patch_metadata.sync(FACIAL, client=client, body=models.PatchedMetadataRequest(user_rating=9))
        assert isinstance(refused, models.ValidationError)  # the documented answer, parsed
    assert Session.objects.get(name=FACIAL).metadata.is_favorite

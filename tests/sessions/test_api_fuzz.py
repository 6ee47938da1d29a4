"""Schemathesis reads the OpenAPI document and sends what it allows (and what it does not) to
the API, in process, with the reference fixtures synced: no answer may be a 5xx, or differ
from what the document says (status codes, content types, bodies, headers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from accounts.models import TokenFailureCount
from sdgen_site.handlers import SiteHandler
from tests.conftest import REAL_SESSION_NAMES

pytestmark = pytest.mark.django_db(transaction=False)

EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def wsgi_app(serve_in_process: Callable[[Any], Any]) -> Any:
    """The site's WSGI application, as the web server runs it."""
    return serve_in_process(SiteHandler())


@pytest.fixture
def superuser_token(db) -> str:
    from django.contrib.auth.models import User

    from accounts.services import create_api_token

    return create_api_token(user=User.objects.create_superuser("fuzzer", password="pw"))


def reaching_the_library(cases: st.SearchStrategy, results: Path) -> st.SearchStrategy:
    """Half the cases name a session (and an image) of the fixture library, so that the
    operations on one session answer more than 404."""
    files = {folder.name: sorted(p.name for p in folder.iterdir() if p.suffix == ".png")
             for folder in results.iterdir() if folder.is_dir() and folder.name in REAL_SESSION_NAMES}

    def in_the_library(case: Any, name: str, index: int) -> Any:
        parameters = case.path_parameters or {}
        if "name" in parameters:
            parameters["name"] = name
            if "filename" in parameters:
                parameters["filename"] = files[name][index % len(files[name])]
        return case

    named = st.builds(in_the_library, cases, st.sampled_from(sorted(files)), st.integers(min_value=0, max_value=9))
    return st.one_of(cases, named)


def test_the_api_answers_as_documented(synced_results: Path, superuser_token: str, wsgi_app: Any,
                                       settings) -> None:
    settings.SDGEN_STREAM_LIFETIME = 0.1  # a stream answers, then ends: each case is one request
    api = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    api.app = wsgi_app
    # Schemathesis asks for gzip but reads WSGI answers as they come, without decompressing
    # them (tests/test_compression.py checks the gzipped answers).
    headers = {"Authorization": f"Bearer {superuser_token}", "Accept-Encoding": "identity"}
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 16
    failures: list[str] = []
    answered: dict[str, set[int]] = {operation.label: set() for operation in operations}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = try_operation(operation, mode, synced_results, headers, answered[operation.label])
            if failure:
                failures.append(f"{operation.label} ({mode}): {failure}")
    assert not failures, "\n\n".join(failures)
    # Every operation was reached, not only refused: each answered a success at least once.
    assert {label: codes for label, codes in answered.items() if not any(200 <= c < 300 for c in codes)} == {}


def try_operation(operation: Any, mode: GenerationMode, results: Path, headers: dict[str, str],
                  answered: set[int]) -> str | None:
    """Schemathesis's cases for one operation with all its checks; what failed, if anything."""

    @given(case=reaching_the_library(operation.as_strategy(generation_mode=mode), results))
    @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        try:
            answered.add(case.call_and_validate(headers=headers).status_code)
        finally:
            # Each case comes from a fresh client: the wrong tokens Schemathesis sends
            # (ignored_auth) do not add up to the 429 meant for guessers.
            TokenFailureCount.objects.all().delete()

    try:
        check()
    except (KeyboardInterrupt, SystemExit):
        raise
    except hypothesis.errors.Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters, no body)
    except BaseException as failure:  # every operation is tried; all failures are reported
        return str(failure)
    return None

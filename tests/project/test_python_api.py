"""The Python API: `check` and `prepare` take a request object, or its fields as keywords."""

from __future__ import annotations

import dataclasses
import typing

import pytest

import kling_prep
from kling_prep.errors import KlingPrepError
from kling_prep.preflight import CheckFields, CheckRequest
from kling_prep.preparation import PrepareFields, PrepareOptions


@pytest.mark.parametrize(
    ("fields", "request_type"), [(CheckFields, CheckRequest), (PrepareFields, PrepareOptions)]
)
def test_the_keywords_are_exactly_the_request_fields(fields, request_type):
    assert set(typing.get_type_hints(fields)) == {f.name for f in dataclasses.fields(request_type)}


@pytest.mark.shared_media
def test_check_by_keywords_is_check_by_request(shared_media):
    image = shared_media / "elf-character.jpeg"
    by_keywords = kling_prep.check(image=image, prompt="a dance", keep_sound=False)
    by_request = kling_prep.check(CheckRequest(image=image, prompt="a dance", keep_sound=False))
    assert by_keywords.findings == by_request.findings
    assert by_keywords.image is not None
    assert by_request.image is not None
    assert by_keywords.image.people == by_request.image.people


def test_a_request_and_keywords_together_are_refused():
    with pytest.raises(TypeError, match="not both"):
        kling_prep.check(CheckRequest(image="a.jpg"), video="b.mp4")
    with pytest.raises(TypeError, match="not both"):
        kling_prep.prepare(PrepareOptions(image="a.jpg"), out_dir="x")


def test_prepare_by_keywords_reads_them_as_the_request(tmp_path):
    # No input in the keywords, none in the request they make: the same refusal.
    with pytest.raises(KlingPrepError, match="give an image, a video or both"):
        kling_prep.prepare(out_dir=tmp_path / "out")

"""A picture given as the reference video, or a clip as the character image, is named as such."""

from __future__ import annotations

import pytest

import kling_prep
from kling_prep.errors import UnsupportedMediaError


def test_a_still_image_given_as_the_video_is_called_a_still_image(samples):
    with pytest.raises(UnsupportedMediaError, match=r"character\.jpg: a still image .*--image"):
        kling_prep.check(
            kling_prep.CheckRequest(video=str(samples / "character.jpg"), keep_sound=False)
        )


def test_a_video_given_as_the_image_is_called_a_video(samples):
    with pytest.raises(
        UnsupportedMediaError, match=r"reference\.mp4: a video, not an image.*--video"
    ):
        kling_prep.check(
            kling_prep.CheckRequest(image=str(samples / "reference.mp4"), keep_sound=False)
        )


def test_a_still_image_given_to_prepare_as_the_video_writes_nothing(samples, tmp_path):
    out = tmp_path / "ready"
    with pytest.raises(UnsupportedMediaError, match="a still image"):
        kling_prep.prepare(
            kling_prep.PrepareOptions(video=str(samples / "character.jpg"), out_dir=str(out))
        )
    assert not out.exists() or not any(out.iterdir())

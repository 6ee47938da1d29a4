from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from thumbnails import rendering
from thumbnails.rendering import Job, Status, ThumbnailSettings, render

DEFAULT = ThumbnailSettings()


def png(path: Path, *, size: tuple[int, int] = (512, 768), mode: str = "RGB", color=(200, 30, 30)) -> Path:
    Image.new(mode, size, color).save(path, format="PNG")
    return path


def job(tmp_path: Path, source: Path, settings: ThumbnailSettings = DEFAULT) -> Job:
    return Job(str(source), str(tmp_path / "thumbs" / "run" / (source.stem + ".webp")), settings)


def test_a_thumbnail_is_240_high_rgb_webp_with_the_aspect_kept(tmp_path: Path) -> None:
    for size, width in [((512, 768), 160), ((832, 1216), 164), ((64, 96), 160), ((1024, 512), 480)]:
        source = png(tmp_path / f"{size[0]}x{size[1]}.png", size=size)
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.RENDERED
        with Image.open(outcome.job.target) as thumbnail:
            assert (thumbnail.format, thumbnail.mode, thumbnail.size) == ("WEBP", "RGB", (width, 240))


def test_height_quality_and_method_are_settable(tmp_path: Path) -> None:
    noisy = Image.effect_noise((512, 768), 80).convert("RGB")
    noisy.save(tmp_path / "noisy.png")
    sizes = {}
    for quality in (20, 95):
        outcome = render(Job(str(tmp_path / "noisy.png"), str(tmp_path / f"q{quality}.webp"),
                             ThumbnailSettings(height=120, quality=quality, method=0)))
        assert outcome.status is Status.RENDERED
        sizes[quality] = os.path.getsize(outcome.job.target)
        assert Image.open(outcome.job.target).size == (80, 120)
    assert sizes[20] < sizes[95]


@pytest.mark.parametrize(
    ("mode", "color"),
    [("RGBA", (255, 0, 0, 0)), ("LA", (0, 0)), ("P", None), ("L", 128), ("I;16", 1000), ("1", 1)],
)
def test_every_mode_becomes_rgb_with_transparency_on_white(tmp_path: Path, mode: str, color) -> None:
    source = tmp_path / f"{mode.replace(';', '')}.png"
    if mode == "P":
        image = Image.new("P", (40, 60), 0)
        image.putpalette([10, 20, 30] * 256)
        image.info["transparency"] = 0
        image.save(source, transparency=0)
    else:
        Image.new(mode, (40, 60), color).save(source)
    outcome = render(job(tmp_path, source))
    assert outcome.status is Status.RENDERED, outcome.error
    with Image.open(outcome.job.target) as thumbnail:
        assert thumbnail.mode == "RGB"
        if mode in ("RGBA", "LA", "P"):
            assert all(channel > 245 for channel in thumbnail.getpixel((80, 120)))  # white, not black


def test_an_up_to_date_thumbnail_is_skipped_and_a_newer_source_renders_again(tmp_path: Path) -> None:
    source = png(tmp_path / "a.png")
    first = render(job(tmp_path, source))
    assert first.status is Status.RENDERED
    assert render(job(tmp_path, source)).status is Status.UP_TO_DATE
    later = os.stat(first.job.target).st_mtime_ns + 1_000_000_000
    os.utime(source, ns=(later, later))
    assert render(job(tmp_path, source)).status is Status.RENDERED


def test_a_source_that_is_gone_takes_its_thumbnail_with_it(tmp_path: Path) -> None:
    source = png(tmp_path / "a.png")
    outcome = render(job(tmp_path, source))
    source.unlink()
    assert render(job(tmp_path, source)).status is Status.REMOVED
    assert not os.path.exists(outcome.job.target)
    assert render(job(tmp_path, source)).status is Status.REMOVED  # and again, quietly


def test_an_interrupted_write_leaves_no_webp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = png(tmp_path / "a.png")
    original_save = Image.Image.save

    def crash_half_way(self, fp, *args, **kwargs):
        fp.write(b"RIFF\x00\x00")  # some bytes are out when the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        render(job(tmp_path, source))
    monkeypatch.setattr(Image.Image, "save", original_save)
    folder = tmp_path / "thumbs" / "run"
    assert list(folder.iterdir()) == []  # neither a .webp nor a temporary file


def test_an_existing_thumbnail_survives_a_failed_rewrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = png(tmp_path / "a.png")
    target = Path(render(job(tmp_path, source)).job.target)
    before = target.read_bytes()
    os.utime(source, ns=(target.stat().st_mtime_ns + 10**9,) * 2)
    monkeypatch.setattr(Image.Image, "save", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left")))
    outcome = render(job(tmp_path, source))
    assert outcome.status is Status.FAILED and "No space left" in outcome.error
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["a.webp"]


class TestBadSources:
    def test_a_zero_byte_file_is_incomplete(self, tmp_path: Path) -> None:
        (tmp_path / "a.png").write_bytes(b"")
        outcome = render(job(tmp_path, tmp_path / "a.png"))
        assert outcome.status is Status.INCOMPLETE
        assert outcome.source_stamp[0] == 0
        assert not Path(outcome.job.target).exists()

    def test_a_png_still_being_written_is_incomplete(self, tmp_path: Path) -> None:
        buffer = io.BytesIO()
        Image.effect_noise((512, 768), 50).save(buffer, format="PNG")
        data = buffer.getvalue()
        source = tmp_path / "a.png"
        source.write_bytes(data[: len(data) // 2])
        assert render(job(tmp_path, source)).status is Status.INCOMPLETE
        source.write_bytes(data)
        assert render(job(tmp_path, source)).status is Status.RENDERED

    def test_a_corrupt_png_fails_with_a_reason(self, tmp_path: Path) -> None:
        buffer = io.BytesIO()
        Image.effect_noise((64, 96), 50).save(buffer, format="PNG")
        data = bytearray(buffer.getvalue())
        data[60:400] = os.urandom(340)  # garbage in the image data; the end chunk is intact
        (tmp_path / "a.png").write_bytes(bytes(data))
        outcome = render(job(tmp_path, tmp_path / "a.png"))
        assert outcome.status is Status.FAILED and outcome.error.startswith("cannot decode the image")

    def test_a_file_that_is_not_a_png(self, tmp_path: Path) -> None:
        (tmp_path / "a.png").write_bytes(b"GIF89a" + b"\x00" * 30 + b"\x00\x00\x00\x00IEND\xaeB`\x82")
        outcome = render(job(tmp_path, tmp_path / "a.png"))
        assert outcome.status is Status.FAILED and "not a PNG" in outcome.error

    @pytest.mark.parametrize(
        ("side", "message"),
        [(20000, "could be decompression bomb"), (9000, "9000x9000 is over the 64 megapixel limit")],
    )
    def test_a_decompression_bomb_is_refused_before_decoding(self, tmp_path: Path, side: int, message: str) -> None:
        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

        # A few bytes on disk that claim side x side pixels.
        header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
        bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) \
            + chunk(b"IEND", b"")
        (tmp_path / "bomb.png").write_bytes(bomb)
        outcome = render(job(tmp_path, tmp_path / "bomb.png"))
        assert outcome.status is Status.FAILED
        assert message in outcome.error

    def test_an_unreadable_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        source = png(tmp_path / "a.png")
        real_open = os.open

        def refuse(path, *args, **kwargs):
            if str(path) == str(source):
                raise PermissionError(13, "Permission denied")
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", refuse)
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.FAILED and "permission denied" in outcome.error
        assert not failures_recorded(tmp_path)  # perhaps only for now: not remembered


def failures_recorded(tmp_path: Path) -> list[str]:
    folder = tmp_path / "thumbs" / "run"
    return sorted(p.name for p in folder.glob("*.failed")) if folder.is_dir() else []


def strip_png(path: Path, width: int, height: int) -> Path:
    """A few bytes on disk (one colour compresses to nothing) for a picture of any size."""
    Image.new("L", (width, height), 90).save(path, format="PNG")
    return path


class TestBounds:
    """Pixels out (WebP stores at most 16383 px a side) and in (64 megapixels), from the header."""

    @pytest.mark.parametrize("width", [2000, 8000, 100_000])
    def test_a_strip_too_wide_for_any_thumbnail_fails_with_a_reason_before_decoding(
        self, tmp_path: Path, width: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        source = strip_png(tmp_path / f"strip{width}.png", width, 1)
        assert source.stat().st_size < 1000
        monkeypatch.setattr(rendering, "_flatten", lambda image: pytest.fail("decoded a refused image"))
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.FAILED
        assert outcome.error == (f"{width}x1 is too wide for a thumbnail 240 px high (it would be {width * 240} px "
                                 "wide; WebP allows 16383)")
        assert not Path(outcome.job.target).exists()

    def test_a_tall_strip_is_one_pixel_wide(self, tmp_path: Path) -> None:
        outcome = render(job(tmp_path, strip_png(tmp_path / "tall.png", 1, 2000)))
        assert outcome.status is Status.RENDERED
        assert Image.open(outcome.job.target).size == (1, 240)

    def test_the_limits(self) -> None:
        assert rendering.thumbnail_size(16383, 240, DEFAULT) == (16383, 240)
        assert rendering.thumbnail_size(8000, 8000, DEFAULT) == (240, 240)
        with pytest.raises(rendering._Refused, match="16384 px wide"):
            rendering.thumbnail_size(16384, 240, DEFAULT)
        with pytest.raises(rendering._Refused, match="over the 64 megapixel limit"):
            rendering.thumbnail_size(8001, 8000, DEFAULT)
        assert rendering.thumbnail_size(20, 240, ThumbnailSettings(height=4096)) == (341, 4096)

    def test_memory_is_handed_back_after_a_large_image(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        released: list[int] = []
        monkeypatch.setattr(rendering.memory, "release", lambda: released.append(1))
        render(job(tmp_path, png(tmp_path / "small.png", size=(512, 768))))
        assert released == []
        render(job(tmp_path, strip_png(tmp_path / "large.png", 2000, 2000)))
        assert released == [1]


class TestFailureMemory:
    def corrupt(self, path: Path) -> Path:
        buffer = io.BytesIO()
        Image.effect_noise((64, 96), 50).save(buffer, format="PNG")
        data = bytearray(buffer.getvalue())
        data[60:400] = bytes(340)
        path.write_bytes(bytes(data))
        return path

    def test_a_failure_is_remembered_until_the_file_changes(self, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
        source = self.corrupt(tmp_path / "bad.png")
        first = render(job(tmp_path, source))
        assert first.status is Status.FAILED and not first.remembered
        assert failures_recorded(tmp_path) == ["bad.webp.failed"]
        real_thumbnail = rendering._thumbnail
        monkeypatch.setattr(rendering, "_thumbnail", lambda *a: pytest.fail("decoded the same bad file again"))
        again = render(job(tmp_path, source))
        assert (again.status, again.error, again.remembered) == (Status.FAILED, first.error, True)
        monkeypatch.setattr(rendering, "_thumbnail", real_thumbnail)
        png(source)  # the file is replaced by a good one: tried again, and the record goes
        later = os.stat(tmp_path / "thumbs" / "run" / "bad.webp.failed").st_mtime_ns + 10**9
        os.utime(source, ns=(later, later))
        assert render(job(tmp_path, source)).status is Status.RENDERED
        assert failures_recorded(tmp_path) == []

    def test_a_png_still_without_its_end_long_after_its_last_change_is_truncated(self, tmp_path: Path) -> None:
        data = png(tmp_path / "whole.png").read_bytes()
        source = tmp_path / "cut.png"
        source.write_bytes(data[: len(data) // 2])
        assert render(job(tmp_path, source)).status is Status.INCOMPLETE  # perhaps still being written
        long_ago = os.stat(source).st_mtime_ns - int(rendering.TRUNCATED_AFTER + 60) * 10**9
        os.utime(source, ns=(long_ago, long_ago))
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.FAILED
        assert outcome.error == "the PNG is truncated (no end chunk 120s after its last change)"
        assert render(job(tmp_path, source)).remembered

    def test_a_source_that_is_gone_takes_its_record_with_it(self, tmp_path: Path) -> None:
        source = self.corrupt(tmp_path / "bad.png")
        render(job(tmp_path, source))
        source.unlink()
        assert render(job(tmp_path, source)).status is Status.REMOVED
        assert failures_recorded(tmp_path) == []


def unblock(fifo: Path) -> None:
    """Open the FIFO's other end, so that a reader stuck in open() gets out (test clean-up)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # nobody is reading


class TestOnlyRegularFiles:
    def render_with_deadline(self, work: Job, fifo: Path, timeout: float = 10.0):
        outcomes = []
        thread = threading.Thread(target=lambda: outcomes.append(render(work)), daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            unblock(fifo)
            thread.join(timeout)
            pytest.fail("render() blocked on a FIFO")
        return outcomes[0]

    def test_a_fifo_named_like_a_png_fails_at_once(self, tmp_path: Path) -> None:
        fifo = tmp_path / "x.png"
        os.mkfifo(fifo)
        outcome = self.render_with_deadline(job(tmp_path, fifo), fifo)
        assert (outcome.status, outcome.error) == (Status.FAILED, "not a regular file")
        assert failures_recorded(tmp_path) == ["x.webp.failed"]

    def test_a_file_swapped_for_a_fifo_after_the_check_does_not_block(self, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        source = png(tmp_path / "x.png")
        checked = os.stat(source)
        source.unlink()
        os.mkfifo(source)
        monkeypatch.setattr(rendering, "examine", lambda job: (checked, None))
        outcome = self.render_with_deadline(job(tmp_path, source), source)
        assert (outcome.status, outcome.error) == (Status.FAILED, "not a regular file")


class TestJpegAndWebpSources:
    """Other generators write JPEG and WebP (SPEC section 7): thumbnails alike, limits alike."""

    @pytest.mark.parametrize(("name", "kind"), [("a.jpg", "JPEG"), ("b.jpeg", "JPEG"), ("c.webp", "WEBP")])
    def test_a_thumbnail_of_a_jpeg_or_webp(self, tmp_path: Path, name: str, kind: str) -> None:
        source = tmp_path / name
        Image.new("RGB", (600, 900), (10, 120, 240)).save(source, format=kind)
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.RENDERED, outcome.error
        with Image.open(outcome.job.target) as thumbnail:
            assert (thumbnail.format, thumbnail.mode, thumbnail.size) == ("WEBP", "RGB", (160, 240))

    def test_a_transparent_webp_goes_onto_white(self, tmp_path: Path) -> None:
        source = tmp_path / "clear.webp"
        Image.new("RGBA", (40, 60), (255, 0, 0, 0)).save(source, format="WEBP", lossless=True)
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.RENDERED, outcome.error
        with Image.open(outcome.job.target) as thumbnail:
            assert thumbnail.mode == "RGB" and all(value > 245 for value in thumbnail.getpixel((80, 120)))

    @pytest.mark.parametrize(("orientation", "size"), [(1, (480, 240)), (6, (120, 240)), (8, (120, 240)),
                                                       (3, (480, 240))])
    def test_a_jpegs_exif_orientation_is_applied(self, tmp_path: Path, orientation: int, size) -> None:
        picture = Image.new("RGB", (400, 200), "white")
        picture.paste((255, 0, 0), (0, 0, 200, 200))  # the left half red
        exif = Image.Exif()
        exif[0x0112] = orientation
        source = tmp_path / "turned.jpg"
        picture.save(source, format="JPEG", exif=exif, quality=95)
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.RENDERED, outcome.error
        with Image.open(outcome.job.target) as thumbnail:
            assert thumbnail.size == size
            red = thumbnail.convert("RGB").getpixel((10, 10))
            # Turned half a turn, the red half is on the right: the top left is white.
            assert (red[1] < 80) is (orientation in (1, 6)), red

    @pytest.mark.parametrize("kind", ["JPEG", "WEBP"])
    def test_a_strip_too_wide_is_refused(self, tmp_path: Path, kind: str) -> None:
        source = tmp_path / ("strip.jpg" if kind == "JPEG" else "strip.webp")
        Image.new("RGB", (2000, 10)).save(source, format=kind)
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.FAILED and "too wide for a thumbnail" in outcome.error

    @pytest.mark.parametrize("kind", ["JPEG", "WEBP"])
    def test_the_pixel_limit_is_checked_from_the_header(self, tmp_path: Path, kind: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
        source = tmp_path / ("big.jpg" if kind == "JPEG" else "big.webp")
        Image.new("RGB", (3000, 2000)).save(source, format=kind)
        monkeypatch.setattr(rendering, "MAX_PIXELS", 5_000_000)
        monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded before the check"))
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.FAILED and "over the 5 megapixel limit" in outcome.error

    @pytest.mark.parametrize("kind", ["JPEG", "WEBP"])
    def test_one_still_being_written_is_incomplete_then_truncated(self, tmp_path: Path, kind: str) -> None:
        whole = tmp_path / "whole"
        Image.effect_noise((300, 200), 60).convert("RGB").save(whole, format=kind)
        source = tmp_path / ("cut.jpg" if kind == "JPEG" else "cut.webp")
        source.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        assert render(job(tmp_path, source)).status is Status.INCOMPLETE
        old = os.stat(source).st_mtime_ns - int(rendering.TRUNCATED_AFTER + 10) * 10**9
        os.utime(source, ns=(old, old))
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.FAILED and f"the {kind} is truncated" in outcome.error

    def test_a_png_named_like_a_jpeg_is_refused(self, tmp_path: Path) -> None:
        source = png(tmp_path / "liar.jpg", size=(20, 20))
        outcome = render(job(tmp_path, source))
        assert outcome.status is Status.FAILED and "not a JPEG file" in outcome.error

    def test_a_job_for_another_storage_hands_the_webp_back(self, tmp_path: Path) -> None:
        source = tmp_path / "x.jpg"
        Image.new("RGB", (100, 50)).save(source, format="JPEG")
        outcome = render(Job(str(source), str(tmp_path / "thumbs" / "x.jpg.webp"), DEFAULT, store_as="run/x.jpg.webp"))
        assert outcome.status is Status.RENDERED and outcome.data is not None
        assert Image.open(io.BytesIO(outcome.data)).size == (480, 240)
        assert not (tmp_path / "thumbs" / "x.jpg.webp").exists()

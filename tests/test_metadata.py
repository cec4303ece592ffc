"""Nothing but pixels survives: inputs full of metadata come out with none of
it, as seen by unseen's own inspector and by an independent reader (exiftool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    EXIFTOOL,
    SECRETS,
    SUFFIX,
    astronaut,
    encoded,
    exif_segment,
    exif_tiff,
    exiftool_tags,
    jpeg_with_metadata,
    png_with_metadata,
    unexpected_tags,
    with_metadata,
)
from PIL import Image
from PIL.PngImagePlugin import PngInfo

import unseen

#: Formats whose test input carries EXIF with a GPS position.
WITH_GPS = ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF")


def _animated_with_metadata(fmt: str) -> bytes:
    first = astronaut(160)
    rest = [first.rotate(5), first.rotate(-5)]
    params: dict[str, Any] = {"save_all": True, "append_images": rest, "duration": 100}
    if fmt == "GIF":
        params["comment"] = b"COMMENT-SECRET"
    elif fmt == "PNG":
        info = PngInfo()
        info.add_text("Author", "Jane Doe")
        params["pnginfo"] = info
    else:
        params["exif"] = exif_tiff()
        params["xmp"] = b"<x:xmpmeta><photoshop:City>Secretville</photoshop:City></x:xmpmeta>"
    return encoded(first, fmt, **params)


INPUTS = {
    **{
        f"meta.{ext}": (lambda fmt=fmt: with_metadata(astronaut(192), fmt))
        for fmt, ext in SUFFIX.items()
    },
    "big-endian-exif.jpg": lambda: encoded(
        astronaut(192), "JPEG", exif=b"Exif\x00\x00" + exif_tiff(big_endian=True)
    ),
    "rotated.jpg": lambda: encoded(
        astronaut(192), "JPEG", exif=b"Exif\x00\x00" + exif_tiff(orientation=6)
    ),
    "animated.gif": lambda: _animated_with_metadata("GIF"),
    "animated.png": lambda: _animated_with_metadata("PNG"),
    "animated.webp": lambda: _animated_with_metadata("WEBP"),
}


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("metadata")
    (root / "in").mkdir()
    for name, make in INPUTS.items():
        (root / "in" / name).write_bytes(make())
    report = unseen.anonymize([root / "in"], root / "out")
    return {
        "root": root,
        "report": report,
        "by_name": {Path(f.input).name: f for f in report.files},
    }


def test_every_input_was_protected(cleaned: dict[str, Any]) -> None:
    assert [(f.input, f.error) for f in cleaned["report"].failed] == []
    assert len(cleaned["report"].files) == len(INPUTS)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_unseens_inspector_finds_nothing_in_the_output(cleaned: dict[str, Any], name: str) -> None:
    found = unseen.inspect(cleaned["by_name"][name].output, faces=False)
    assert found.identifying == ()
    assert found.embedded == ()


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_no_planted_string_survives(cleaned: dict[str, Any], name: str) -> None:
    data = Path(cleaned["by_name"][name].output).read_bytes()
    assert [s for s in SECRETS if s in data] == []
    assert b"Exif\x00\x00" not in data and b"<x:xmpmeta" not in data


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
@pytest.mark.parametrize("name", sorted(INPUTS))
def test_exiftool_finds_only_structural_tags_in_the_output(
    cleaned: dict[str, Any], name: str
) -> None:
    output = Path(cleaned["by_name"][name].output)
    assert unexpected_tags(exiftool_tags(output)) == {}


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")
@pytest.mark.parametrize("fmt", WITH_GPS)
def test_exiftool_does_see_the_metadata_in_the_input(cleaned: dict[str, Any], fmt: str) -> None:
    # The allowlist check above can fail: on the inputs, it does.
    tags = exiftool_tags(cleaned["root"] / "in" / f"meta.{SUFFIX[fmt]}")
    unexpected = unexpected_tags(tags)
    assert "GPS:GPSLatitude" in unexpected
    assert unexpected.get("IFD0:Make") == "UnseenTestCam"


@pytest.mark.parametrize("fmt", WITH_GPS)
def test_inspect_finds_the_metadata_in_the_input(cleaned: dict[str, Any], fmt: str) -> None:
    found = unseen.inspect(cleaned["root"] / "in" / f"meta.{SUFFIX[fmt]}", faces=False)
    groups = {m.group for m in found.identifying}
    assert "EXIF:GPS" in groups
    names = {(m.group, m.name): m.value for m in found.identifying}
    assert names.get(("EXIF:IFD0", "Make"), names.get(("TIFF", "Make"))) == "UnseenTestCam"
    assert ("EXIF:Exif", "BodySerialNumber") in names
    assert ("EXIF:Exif", "MakerNote") in names
    assert "XMP" in groups


def test_inspect_lists_every_kind_of_jpeg_metadata(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_with_metadata(astronaut(192)))
    found = unseen.inspect(path, faces=False)
    groups = {m.group for m in found.identifying}
    assert {
        "EXIF:IFD0",
        "EXIF:Exif",
        "EXIF:GPS",
        "EXIF:IFD1",
        "XMP",
        "IPTC",
        "Comment",
        "Container",
        "JPEG",
    } <= groups
    assert "EXIF thumbnail" in {e.kind for e in found.embedded}
    assert "JPEG appended after the image" in {e.kind for e in found.embedded}
    assert found.size == (192, 192)


def test_inspect_lists_png_chunks(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_with_metadata(astronaut(192)))
    found = unseen.inspect(path, faces=False)
    names = {(m.group, m.name) for m in found.identifying}
    assert {
        ("PNG:text", "Author"),
        ("PNG:text", "Comment"),
        ("PNG:text", "Description"),
        ("PNG:chunk", "tIME"),
        ("PNG:chunk", "prVt"),
    } <= names
    assert ("Container", "data after the end of the image") in names
    assert "EXIF thumbnail" in {e.kind for e in found.embedded}
    # The colour profile is listed, as display information.
    assert any(m.group == "ICC" and not m.identifying for m in found.metadata)


def test_report_names_what_was_removed_but_never_its_values(cleaned: dict[str, Any]) -> None:
    jpeg = cleaned["by_name"]["meta.jpg"]
    for expected in (
        "EXIF:GPS:GPSLatitude",
        "EXIF:IFD0:Make",
        "EXIF:Exif:MakerNote",
        "Comment:JPEG comment",
        "embedded:EXIF thumbnail",
        "Container:data after the end of the image",
    ):
        assert expected in jpeg.removed
    text = json.dumps(cleaned["report"].to_dict())
    for secret in SECRETS:
        assert secret.decode() not in text


def test_rotated_input_loses_its_orientation_tag_but_stays_upright(cleaned: dict[str, Any]) -> None:
    result = cleaned["by_name"]["rotated.jpg"]
    with Image.open(result.output) as image:
        assert 0x0112 not in image.getexif()
        assert image.size == (192, 192)


def test_thumbnail_of_the_unmasked_face_is_gone(cleaned: dict[str, Any]) -> None:
    # The classic leak: a masked photo whose EXIF thumbnail still shows the face.
    source = Path(cleaned["root"] / "in" / "meta.jpg").read_bytes()
    assert source.count(b"\xff\xd8\xff") >= 3  # the photo, its thumbnail, the appended copy
    output = Path(cleaned["by_name"]["meta.jpg"].output).read_bytes()
    assert output.count(b"\xff\xd8\xff") == 1


def test_inspect_finds_a_second_exif_segment(tmp_path: Path) -> None:
    # Pillow reads only the first EXIF segment of a JPEG; editors that append
    # their own leave the camera's GPS position in a second one.
    base = encoded(astronaut(96), "JPEG")
    harmless = exif_segment(exif_tiff(orientation=1, identifying=False))
    path = tmp_path / "two-exif.jpg"
    path.write_bytes(base[:2] + harmless + exif_segment(exif_tiff()) + base[2:])
    found = unseen.inspect(path, faces=False)
    names = {(m.group, m.name) for m in found.identifying}
    assert ("EXIF", "additional EXIF segment") in names
    assert ("EXIF:GPS", "GPSLatitude") in names
    assert ("EXIF:IFD0", "Make") in names
    report = unseen.anonymize([path], tmp_path / "out")
    assert "EXIF:GPS:GPSLatitude" in report.files[0].removed
    assert b"UnseenTestCam" not in (tmp_path / "out" / "two-exif.jpg").read_bytes()

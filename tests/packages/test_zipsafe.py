"""Zip safety: size limits, zip bombs, zip slip, links, file types, SVG content. Nothing is read to disk."""
from __future__ import annotations

import pytest

from lms_service.packages.package import validate_files
from lms_service.packages.zipsafe import DEFAULT_LIMITS, Limits, PackageRefused, check_svg, read_folder, read_zip

from .helpers import VALID, folder_entries, zip_entries, zip_folder


def refused(data, limits=DEFAULT_LIMITS):
    with pytest.raises(PackageRefused) as error:
        read_zip(data, name="p.zip", limits=limits)
    return [str(issue) for issue in error.value.issues]


def test_a_valid_zip_reads_like_the_folder():
    assert read_zip(zip_folder(VALID)) == folder_entries(VALID)


def test_a_zip_of_the_folder_itself_is_accepted():
    files = read_zip(zip_folder(VALID, prefix="valid-minimal/"))

    assert "module.yaml" in files and "lessons/01-intro.en.md" in files
    report, package = validate_files(files)
    assert report.ok and package is not None


def test_upload_size_limit():
    data = zip_folder(VALID)

    assert refused(data, Limits(upload_max_bytes=len(data) - 1)) == [
        f"p.zip: The zip is larger than the limit of {(len(data) - 1) / 1048576:.1f} MB."]


def test_not_a_zip():
    assert refused(b"PK\x03\x04 this is not a zip") == ["p.zip: This is not a readable zip file."]


def test_zip_slip_absolute_paths_and_backslashes():
    data = zip_entries({"../evil.md": b"x", "/etc/cron.d/x.md": b"x", "lessons\\..\\x.md": b"x",
                        "C:/x.md": b"x", "module.yaml": b"a: 1"})

    assert refused(data) == [
        "../evil.md: A path that leaves the package (..) is not allowed: ../evil.md",
        "/etc/cron.d/x.md: An absolute path is not allowed: /etc/cron.d/x.md",
        "lessons\\..\\x.md: A path with a backslash is not allowed: lessons\\..\\x.md",
        "C:/x.md: An absolute path is not allowed: C:/x.md",
    ]


def test_symlinks_are_refused():
    data = zip_entries({"module.yaml": b"a: 1", "media/link.svg": b"/etc/passwd"}, symlinks=("media/link.svg",))

    assert refused(data) == ["media/link.svg: A symbolic link is not allowed: media/link.svg"]


def test_unexpected_file_types_are_refused_and_os_junk_skipped():
    data = zip_entries({"module.yaml": b"a: 1", "run.sh": b"#!/bin/sh", "page.html": b"<p>",
                        "__MACOSX/._module.yaml": b"x", ".DS_Store": b"x"})

    messages = refused(data)
    allowed = ".jpeg, .jpg, .md, .png, .svg, .webp, .yaml, .yml"
    assert messages == [f"run.sh: The file type of 'run.sh' is not allowed (allowed: {allowed}).",
                        f"page.html: The file type of 'page.html' is not allowed (allowed: {allowed})."]


def test_zip_bomb_by_ratio():
    data = zip_entries({"module.yaml": b"a: 1", "lessons/bomb.en.md": b"0" * (5 * 1024 * 1024)})

    messages = refused(data)
    assert len(messages) == 1
    assert messages[0].startswith("lessons/bomb.en.md: This entry is compressed ")
    assert messages[0].endswith("times, more than the limit of 100 (a zip bomb?).")


def test_zip_bomb_by_total_size():
    data = zip_entries({"module.yaml": b"a: 1", "lessons/a.en.md": b"abc" * 400_000})

    assert refused(data, Limits(uncompressed_max_bytes=1_000_000, max_ratio=10_000)) == [
        "p.zip: Unpacked, the zip would be 1.1 MB; the limit is 1.0 MB."]


def test_a_header_that_lies_about_the_size_is_refused():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("module.yaml", b"a: 1\n" * 100)
    raw = bytearray(buffer.getvalue())
    # Patch the central directory's uncompressed size of the only entry down to 10 bytes.
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24:central + 28] = (10).to_bytes(4, "little")

    messages = refused(bytes(raw))
    assert len(messages) == 1 and messages[0].startswith("module.yaml: ")


def test_folder_with_a_symlink(tmp_path):
    (tmp_path / "module.yaml").write_text("a: 1")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "x.svg").symlink_to("/etc/passwd")

    with pytest.raises(PackageRefused) as error:
        read_folder(tmp_path)
    assert [str(i) for i in error.value.issues] == ["media/x.svg: A symbolic link is not allowed: media/x.svg"]


@pytest.mark.parametrize("svg, message", [
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>',
     "The SVG 'm.svg' contains a <script> element, which is not allowed."),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>',
     "The SVG 'm.svg' has an event attribute (onload), which is not allowed."),
    (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
     b'<image xlink:href="https://evil.example/x.png"/></svg>',
     "The SVG 'm.svg' refers to an external resource (https://evil.example/x.png); only references inside the "
     "file (#id) are allowed."),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://x.example/a.css);</style></svg>',
     "The SVG 'm.svg' refers to an external resource (@import); only references inside the file (#id) are "
     "allowed."),
    (b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
     "The SVG 'm.svg' has a DOCTYPE or ENTITY declaration; remove it."),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>',
     "The SVG 'm.svg' contains a <foreignObject> element, which is not allowed."),
])
def test_unsafe_svg(svg, message):
    assert check_svg("m.svg", svg) == [message]


def test_safe_svg_with_internal_references():
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
           b'<defs><linearGradient id="g"/></defs><rect fill="url(#g)"/><use xlink:href="#g"/></svg>')
    assert check_svg("m.svg", svg) == []


def test_oversized_text_files_are_not_parsed():
    report, package = validate_files({"module.yaml": b"a: 1\n", "lessons/a.en.md": b"word " * 300_000})

    assert package is None
    assert report.messages() == ["lessons/a.en.md: The file is larger than 1024 kB; split it up."]

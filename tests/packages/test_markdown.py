"""Lesson Markdown: raw HTML never rendered, images from module.yaml, citations linked, output sanitised."""
from __future__ import annotations

from lms_service.packages.markdown import count_words, lint_markdown, render_markdown

MEDIA = [{"file": "media/a.svg", "alt": {"sv": "En bild", "en": "A picture"}}]
REFS = [{"id": "first"}, {"id": "second"}]


def render(text, lang="en"):
    return str(render_markdown(text, lang=lang, media=MEDIA, media_url=lambda p: f"/m/{p}", references=REFS))


def test_raw_html_is_escaped_never_rendered():
    html = render('Hi <script>alert(1)</script> <img src=x onerror="alert(1)">\n\n<iframe src="//x"></iframe>')

    assert "<script" not in html and "<iframe" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_images_use_the_media_url_and_the_alt_text_of_the_language():
    text = "![ignored alt](media/a.svg)"

    assert '<img src="/m/media/a.svg" alt="A picture" loading="lazy">' in render(text, "en")
    assert 'alt="En bild"' in render(text, "sv")


def test_undeclared_images_are_not_rendered():
    assert "<img" not in render("![x](https://evil.example/track.png)")


def test_citations_link_to_the_reference_list():
    html = render("As shown [ref:second].")

    assert '<a class="citation" href="#ref-second" rel="noopener noreferrer">[2]</a>' in html


def test_dangerous_links_are_not_links():
    html = render("[a](javascript:alert(1)) [b](data:text/html,x) [c](https://ok.example/)")

    assert "javascript:" not in html.split("[a]")[0]
    assert 'href="javascript' not in html and 'href="data' not in html
    assert '<a href="https://ok.example/" rel="noopener noreferrer">c</a>' in html


def test_tables_render():
    html = render("| a | b |\n|---|---|\n| 1 | 2 |\n")

    assert "<table>" in html and "<th>a</th>" in html and "<td>2</td>" in html


def test_lint_reports_lines():
    text = "First line\nsecond <b>bold</b> line\n\n![](media/missing.png)\n\n[x](ftp://host/) [ref:nope]\n"

    findings = lint_markdown(text, media_paths={"media/a.svg"}, reference_ids={"first"})

    assert findings.problems == [
        (2, "Raw HTML is not allowed in lessons: <b>"),
        (2, "Raw HTML is not allowed in lessons: </b>"),
        (4, "The image 'media/missing.png' is not listed under media in module.yaml."),
        (6, "The link 'ftp://host/' must start with https:, http: or mailto:."),
        (6, "The citation [ref:nope] names no reference in module.yaml."),
    ]


def test_word_count_ignores_markup():
    assert count_words("## Two words\n\n**three** [more](https://a.example/long/path/here) words!\n") == 5

"""Lesson Markdown: checking it for authors and rendering it for learners.

Rendering uses markdown-it-py (CommonMark with tables, raw HTML off), rewrites images to the module's
media URL with the alt text from module.yaml, turns ``[ref:id]`` into a link to the reference list, and
finally passes the HTML through nh3 with an allow-list, so nothing an author writes can inject markup.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import nh3
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markupsafe import Markup

CITATION_RE = re.compile(r"\[ref:([^\]\s]*)\]")
LINK_SCHEMES = ("https:", "http:", "mailto:")
WORD_RE = re.compile(r"\w+")

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "sup",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "img": {"src", "alt", "title", "loading"},
    "ol": {"start"},
    "code": {"class"},
    "th": {"scope"},
}


def _citation_rule(state: StateInline, silent: bool) -> bool:
    if not state.src.startswith("[ref:", state.pos):
        return False
    match = CITATION_RE.match(state.src, state.pos)
    if match is None:
        return False
    if not silent:
        token = state.push("citation", "", 0)
        token.meta = {"id": match.group(1)}
        token.content = match.group(0)
    state.pos = match.end()
    return True


def _parser(allow_html: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": allow_html}).enable("table")
    md.inline.ruler.before("link", "citation", _citation_rule)
    return md


# The checking parser sees raw HTML as HTML tokens (to report it); the rendering parser never does.
_LINT_MD = _parser(allow_html=True)
# markdown-it quietly turns links with a dangerous scheme into text; the checker wants to see them to report them.
_LINT_MD.validateLink = lambda url: True  # type: ignore[method-assign]
_RENDER_MD = _parser(allow_html=False)


@dataclass
class MarkdownFindings:
    """What checking one lesson file found: problems by line, and what it uses."""

    problems: list[tuple[int | None, str]] = field(default_factory=list)
    images: list[tuple[int | None, str]] = field(default_factory=list)
    citations: list[tuple[int | None, str]] = field(default_factory=list)
    words: int = 0


def _inline_children(tokens: list[Token]) -> Iterator[tuple[int | None, Token]]:
    for token in tokens:
        if token.type == "html_block":
            yield (token.map[0] + 1 if token.map else None), token
        if token.type != "inline" or not token.children:
            continue
        line = token.map[0] + 1 if token.map else None
        for child in token.children:
            yield line, child
            if child.type in ("softbreak", "hardbreak") and line is not None:
                line += 1


def lint_markdown(text: str, *, media_paths: set[str], reference_ids: set[str]) -> MarkdownFindings:
    """Check a lesson: raw HTML, link schemes, images declared in ``media``, citations that resolve."""
    findings = MarkdownFindings()
    tokens = _LINT_MD.parse(text)
    for line, token in _inline_children(tokens):
        if token.type in ("html_block", "html_inline"):
            snippet = token.content.strip().splitlines()[0][:60] if token.content.strip() else ""
            findings.problems.append((line, _("Raw HTML is not allowed in lessons: %(html)s", html=snippet)))
        elif token.type == "image":
            src = str(token.attrs.get("src", ""))
            findings.images.append((line, src))
            if src not in media_paths:
                findings.problems.append((line, _(
                    "The image '%(src)s' is not listed under media in module.yaml.", src=src)))
        elif token.type == "link_open":
            href = str(token.attrs.get("href", ""))
            if not href.lower().startswith(LINK_SCHEMES):
                findings.problems.append((line, _(
                    "The link '%(href)s' must start with https:, http: or mailto:.", href=href)))
        elif token.type == "citation":
            ref = token.meta["id"]
            findings.citations.append((line, ref))
            if ref not in reference_ids:
                findings.problems.append((line, _(
                    "The citation [ref:%(id)s] names no reference in module.yaml.", id=ref)))
        elif token.type in ("text", "code_inline"):
            findings.words += len(WORD_RE.findall(token.content))
    for token in tokens:
        if token.type in ("fence", "code_block"):
            findings.words += len(WORD_RE.findall(token.content))
    return findings


def count_words(text: str) -> int:
    """Words of lesson text a learner reads (markup and link targets not counted)."""
    return lint_markdown(text, media_paths=set(), reference_ids=set()).words


def render_markdown(text: str, *, lang: str, media: list[dict] | None = None,
                    media_url: Callable[[str], str] | None = None,
                    references: list[dict] | None = None) -> Markup:
    """Lesson Markdown as safe HTML for a learner reading in ``lang``.

    ``media`` is the manifest's media list (alt texts come from there), ``media_url(path)`` gives the URL
    of a media file, and ``references`` is the manifest's reference list (citations link to ``#ref-<id>``).
    """
    env: dict[str, Any] = {
        "lang": lang,
        "alts": {item["file"]: item["alt"] for item in media or ()},
        "media_url": media_url or (lambda path: path),
        "ref_numbers": {ref["id"]: number for number, ref in enumerate(references or (), start=1)},
    }
    tokens = _RENDER_MD.parse(text, env)
    raw = _RENDER_MD.renderer.render(tokens, _RENDER_MD.options, env)
    return Markup(sanitise_html(raw))


def sanitise_html(raw: str) -> str:
    return nh3.clean(raw, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer", strip_comments=True)


def _render_image(self: Any, tokens: list[Token], idx: int, options: Any, env: dict) -> str:
    src = str(tokens[idx].attrs.get("src", ""))
    alt = env["alts"].get(src)
    if alt is None:
        return ""  # an undeclared image never passes validation; render nothing rather than a guess
    text = alt.get(env["lang"]) or next(iter(alt.values()), "")
    return (f'<img src="{html.escape(env["media_url"](src), quote=True)}" alt="{html.escape(text, quote=True)}"'
            ' loading="lazy">')


def _render_citation(self: Any, tokens: list[Token], idx: int, options: Any, env: dict) -> str:
    ref = tokens[idx].meta["id"]
    number = env["ref_numbers"].get(ref)
    if number is None:
        return html.escape(tokens[idx].content)
    return f'<sup><a class="citation" href="#ref-{html.escape(ref, quote=True)}">[{number}]</a></sup>'


_RENDER_MD.add_render_rule("image", _render_image)
_RENDER_MD.add_render_rule("citation", _render_citation)

"""A person's own text files as passages for `seal learn` (our extension, not in the paper).

`read_sources(paths)` reads files and folders (folders recursively, in sorted order, hidden entries left out) of
plain text (`.txt`), Markdown (`.md`, `.markdown`), HTML (`.html`, `.htm`: the text, tags stripped by Beautiful Soup,
headings kept as Markdown headings), Word (`.docx`, by python-docx: paragraphs, headings as Markdown headings) and PDF
(`.pdf`, by pypdf: each page's text). A file that is empty, binary (a NUL byte, or not UTF-8), of another type, or a
PDF or Word file its reader cannot read (damaged, encrypted) is skipped and reported (`format_skipped`), not an error;
so is anything that is not a regular file (a FIFO, a device, a socket: reading one could wait forever) and a file
that cannot be opened. Each real file and folder is read once, however many links lead to it (a folder that links
to itself is not read again and again).

`to_passages(sources, tokenizer, max_tokens)` splits each text at Markdown headings (Markdown files only, outside
code fences) and blank lines, and packs consecutive paragraphs of one section into passages of at most `max_tokens`
tokens (counted with the model's tokenizer, no special tokens); a paragraph over the budget is split at sentence
ends, a sentence over it into token slices. A passage is titled `<file stem>: <heading>` (the file stem alone
before the first heading) and has no questions; its id is `passage_id(<source name> + "\\n" + title, text)`, so the
same file gives the same ids in every run. A repeated passage (same source, heading and text) is kept once.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from seal.domains.knowledge.data import Passage, passage_id
from seal.errors import DataError

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
MARKDOWN_SUFFIXES = (".md", ".markdown") + HTML_SUFFIXES + (".docx",)  # HTML and Word headings become Markdown ones
BINARY_SUFFIXES = (".pdf", ".docx")  # read by their own libraries, not as text
ACCEPTED = "text (.txt), Markdown (.md, .markdown), HTML (.html, .htm), Word (.docx) and PDF (.pdf) files"
CONVERT = {".doc": "an old Word file: save it as .docx or .txt", ".odt": "save it as .docx or .txt",
           ".rtf": "save it as .txt", ".pages": "export it as .docx or .txt", ".epub": "convert it to .html or .txt",
           ".xhtml": "rename it to .html"}  # the advice for a type that is not read
_HEADING = re.compile(r" {0,3}(#{1,6})\s+(.*?)\s*#*\s*")
_FENCE = re.compile(r" {0,3}(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_BLANK_LINES = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Source:
    """One readable file: its absolute `path`, the `name` reports use (relative to the folder given, or the file's
    name when the file itself was given), its text and the SHA-256 of its bytes (hex)."""

    path: Path
    name: str
    text: str
    sha256: str

    @property
    def markdown(self) -> bool:
        return self.path.suffix.lower() in MARKDOWN_SUFFIXES


@dataclass(frozen=True)
class Skipped:
    """A file left out, and why: `empty`, `binary`, `unsupported type` (with advice for a few known types, e.g.
    `unsupported type: an old Word file: save it as .docx or .txt`), `unreadable pdf`, `unreadable docx`, `not a
    regular file`, `unreadable: <the system's reason>` or `<reader> is not installed: pip install <reader>`."""

    name: str
    why: str


def format_skipped(skipped: Sequence[Skipped]) -> str:
    """One line naming every skipped file, or "" when none was.

    >>> format_skipped([Skipped("a.bin", "binary"), Skipped("b.docx", "unsupported type")])
    'skipped 2 files: a.bin (binary), b.docx (unsupported type)'
    """
    if not skipped:
        return ""
    files = "file" if len(skipped) == 1 else "files"
    return f"skipped {len(skipped)} {files}: " + ", ".join(f"{s.name} ({s.why})" for s in skipped)


def _pdf_text(path: Path) -> str:
    """The text of every page of a PDF (pypdf), pages separated by blank lines."""
    import pypdf

    reader = pypdf.PdfReader(path)
    return "\n\n".join(page.extract_text() or "" for page in reader.pages)


def _docx_text(path: Path) -> str:
    """The paragraphs of a Word file (python-docx) separated by blank lines; a paragraph of a `Heading N` (or
    `Title`) style is written as a Markdown heading of level N (1), so sections split there as in Markdown."""
    import docx

    lines = []
    for paragraph in docx.Document(str(path)).paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        level = 1 if style == "Title" else int(style[8:]) if re.fullmatch(r"Heading [1-6]", style) else 0
        text = paragraph.text.strip()
        lines.append(f"{'#' * level} {text}" if level and text else text)
    return "\n\n".join(lines)


_BLOCKS = ("p", "div", "br", "li", "tr", "table", "ul", "ol", "pre", "blockquote", "section", "article", "header",
           "footer", "dd", "dt", "figcaption")


def html_text(html: str) -> str:
    """The readable text of an HTML page (Beautiful Soup, Python's own parser): scripts, styles and the head left out,
    blank lines between block elements, headings `h1`..`h6` as Markdown headings (`#`..`######`).

    >>> html_text("<html><head><title>T</title></head><body><h2>Tor</h2><p>A <b>town</b>.</p><p>Old.</p></body>")
    '## Tor\\n\\nA town.\\n\\nOld.'
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    for tag in soup.find_all(re.compile(r"^h[1-6]$")):  # a heading on one line, whatever its markup
        tag.replace_with(f"\n\n{'#' * int(tag.name[1])} {tag.get_text(' ', strip=True)}\n\n")
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    text = soup.get_text()
    return _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.split("\n"))).strip()


_READERS = {".pdf": (_pdf_text, "pypdf", "unreadable pdf"), ".docx": (_docx_text, "python-docx", "unreadable docx")}


def _read_file(path: Path, name: str) -> Source | Skipped:
    suffix = path.suffix.lower()
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or a device could be read forever, a socket not at all
            return Skipped(name, "not a regular file")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO put there since: no wait for a writer
    except OSError as e:
        return Skipped(name, f"unreadable: {e.strerror}")
    with os.fdopen(fd, "rb") as f:
        head = f.read(8192)
        if suffix in CONVERT:  # a document of a known type that is not read: say how to make it readable
            return Skipped(name, f"unsupported type: {CONVERT[suffix]}")
        if suffix not in BINARY_SUFFIXES and b"\x00" in head:  # whatever its name says, a file with NUL bytes is not text
            return Skipped(name, "binary")
        if suffix not in TEXT_SUFFIXES + HTML_SUFFIXES + BINARY_SUFFIXES:
            return Skipped(name, "unsupported type")
        data = head + f.read()
    digest = hashlib.sha256(data).hexdigest()
    if suffix in _READERS:
        read, package, unreadable = _READERS[suffix]
        try:
            text = read(path)
        except ImportError:  # a dependency of the package, missing from a broken install: this file is skipped
            return Skipped(name, f"{package} is not installed: pip install {package}")
        except Exception:  # the readers' errors on a damaged or encrypted file have no common base class
            return Skipped(name, unreadable)
    elif b"\x00" in data:
        return Skipped(name, "binary")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return Skipped(name, "binary")
        if suffix in HTML_SUFFIXES:
            text = html_text(text)
    if not text.strip():
        return Skipped(name, "empty")
    return Source(path, name, text.replace("\r\n", "\n").replace("\r", "\n"), digest)


def _files(root: Path, read: set[Path] | None = None) -> list[Path]:
    """The entries under a folder that are not folders (files, FIFOs, devices; not broken links), recursively in
    sorted order, leaving out hidden ones and every folder already in `read` (real paths; updated): a folder
    reached again through a link, to itself or to one read before, is read once."""
    read = set() if read is None else read
    if root.resolve() in read:
        return []
    read.add(root.resolve())
    out = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        out.extend(_files(entry, read) if entry.is_dir() else [entry] if entry.exists() else [])
    return out


def read_sources(paths: Sequence[str | Path]) -> tuple[list[Source], list[Skipped]]:
    """The readable files of `paths` (files, or folders read recursively), each file once, and those skipped.

    Raises:
        DataError: no path given; a path that does not exist; no readable text in any file (the skipped files and
            the accepted types named).
    """
    if not paths:
        raise DataError("no file or folder given")
    sources: list[Source] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()  # real paths: a file reached through links is read once
    folders: set[Path] = set()
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise DataError(f"{given}: no such file or folder")
        path = path.resolve()
        files = _files(path, folders) if path.is_dir() else [path]
        for file in files:
            if file.resolve() in seen:
                continue
            seen.add(file.resolve())
            name = file.relative_to(path.parent).as_posix()
            found = _read_file(file, name)
            (sources if isinstance(found, Source) else skipped).append(found)
    if not sources:
        detail = f" ({format_skipped(skipped)})" if skipped else " (no files)"
        raise DataError(f"no readable text in {', '.join(map(str, paths))}{detail}; seal learn reads {ACCEPTED}")
    return sources, skipped


def sections(text: str, markdown: bool) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) in order: Markdown headings outside code fences start a section (its heading is "" before
    the first one); blank lines separate paragraphs. Sections without text are dropped.

    >>> sections("Intro.\\n\\n# Tor\\nTor is a town.\\n\\nIt has a port.\\n## Empty\\n", markdown=True)
    [('', ['Intro.']), ('Tor', ['Tor is a town.', 'It has a port.'])]
    """
    found: list[tuple[str, list[str]]] = []
    heading, lines, fenced = "", [], False

    def close():
        paragraphs = [p.strip() for p in _BLANK_LINES.split("\n".join(lines)) if p.strip()]
        if paragraphs:
            found.append((heading, paragraphs))

    for line in text.split("\n"):
        if markdown and _FENCE.match(line):
            fenced = not fenced
        m = _HEADING.fullmatch(line) if markdown and not fenced else None
        if m:
            close()
            heading, lines = m[2], []
        else:
            lines.append(line)
    close()
    return found


def _pack(pieces: list[str], sep: str, size: Callable[[str], int], max_tokens: int) -> list[str]:
    """Consecutive pieces joined with `sep` while the joined text stays within `max_tokens` (pieces fit alone)."""
    out: list[str] = []
    for piece in pieces:
        joined = f"{out[-1]}{sep}{piece}" if out else piece
        if out and size(joined) <= max_tokens:
            out[-1] = joined
        else:
            out.append(piece)
    return out


def split_section(paragraphs: list[str], tokenizer, max_tokens: int) -> list[str]:
    """Passage texts of one section, each at most `max_tokens` tokens: paragraphs packed together (blank line between),
    a paragraph over the budget split at sentence ends and its sentences packed, a sentence over it cut into slices of
    `max_tokens` tokens (decoded back to text).

    Raises:
        ValueError: `max_tokens` < 1.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]  # a note is text

    def size(text: str) -> int:
        return len(ids(text))

    def fitted(paragraph: str) -> list[str]:
        if size(paragraph) <= max_tokens:
            return [paragraph]
        pieces = []
        for sentence in _SENTENCE_END.split(paragraph):
            tokens = ids(sentence)
            if len(tokens) <= max_tokens:
                pieces.append(sentence)
                continue
            for start in range(0, len(tokens), max_tokens):
                piece = tokenizer.decode(tokens[start:start + max_tokens], skip_special_tokens=True).strip()
                pieces.extend([piece] if piece else [])
        return _pack(pieces, " ", size, max_tokens)

    out: list[str] = []
    extendable = False  # the last passage is whole paragraphs (a split paragraph's parts are not joined with others)
    for paragraph in paragraphs:
        parts = fitted(paragraph)
        whole = len(parts) == 1
        if whole and extendable and size(f"{out[-1]}\n\n{parts[0]}") <= max_tokens:
            out[-1] = f"{out[-1]}\n\n{parts[0]}"
        else:
            out += parts
        extendable = whole
    return out


def to_passages(sources: Sequence[Source], tokenizer, max_tokens: int) -> list[Passage]:
    """Every source's passages, in order (rules in the module docstring); a repeated passage is kept once.

    Raises:
        ValueError: `max_tokens` < 1.
    """
    passages: list[Passage] = []
    ids: set[str] = set()
    for source in sources:
        stem = source.path.stem
        for heading, paragraphs in sections(source.text, source.markdown):
            title = f"{stem}: {heading}" if heading else stem
            for text in split_section(paragraphs, tokenizer, max_tokens):
                pid = passage_id(f"{source.name}\n{title}", text)
                if pid not in ids:
                    ids.add(pid)
                    passages.append(Passage(pid, title, text, ()))
    return passages

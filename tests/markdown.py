"""Code samples of the project's Markdown documents, for the tests that run them."""

from __future__ import annotations

import re
from pathlib import Path

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_samples(document: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(document.read_text()) if lang == language]

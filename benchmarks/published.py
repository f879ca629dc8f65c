"""Where every benchmark leaves its results: benchmarks/results/NAME.json and NAME.md."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def publish(name: str, results: dict, markdown: str) -> Path:
    """Write the JSON and the Markdown table (which names its command) and print the table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown)
    print(markdown)
    return out

"""Command-line options shared by eegzip's commands (cli.py and the bench command)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OutputOption = Annotated[
    Path | None, typer.Option("-o", "--output", help="Output file, or directory.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
ForceOption = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing outputs.")]
DeviceOption = Annotated[
    str, typer.Option("--device", help="cpu, cuda, cuda:N or auto.", show_default=True)
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Shipped model name or weights file (.safetensors/.pth)."),
]
GroupsOption = Annotated[
    str | None,
    typer.Option(
        "--groups",
        help="Multi-channel models: manual (scalp regions, default), random, none, or a "
        "JSON file listing groups of labels. One token stream per group.",
    ),
]
GroupSeedOption = Annotated[
    int | None, typer.Option("--group-seed", help="Seed of --groups random (default 0).")
]
GroupSizeOption = Annotated[
    int | None, typer.Option("--group-size", help="Channels per random group (default 4).")
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        min=1,
        help="Files at once, each in its own process with one torch thread (default: the "
        "usable cores).",
    ),
]
RayOption = Annotated[
    bool, typer.Option("--ray", help="Run the files as tasks on a local Ray cluster (eegzip[ray]).")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option("--ray-address", help="Run the files as tasks on this Ray cluster (HOST:PORT)."),
]
ManifestOption = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        help="Append one JSON line per file here (default with -o DIR: "
        "DIR/eegzip-manifest.jsonl).",
    ),
]

"""Pack the train split of ../shared/data (and a few test files) into packed/, to carry to a GPU.

Only the repository travels to a lent GPU (64 MiB in all, wheels and pack included), so the
training data goes as int16 first differences + zstd (see ``eegzip/train/pack.py``). The
folder is git-ignored. Prints the pack's size, channel-hours, and the command.

    python benchmarks/pack_training_data.py [--data ../shared/data] [--out packed]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from eegzip.train.pack import Pack, PackSpec, write_pack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--data", type=Path, default=here.parents[1] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=here.parent / "packed")
    parser.add_argument("--model-rate", type=int, default=PackSpec.model_rate)
    parser.add_argument("--min-step-uv", type=float, default=PackSpec.min_step_uv)
    parser.add_argument(
        "--test-files",
        type=int,
        default=PackSpec.test_files_per_dataset,
        help="Test-split files per dataset, for held-out checks and round trips.",
    )
    parser.add_argument(
        "--train-stride",
        type=int,
        default=PackSpec.train_stride,
        help="Keep every n-th train file of each dataset (subsampling).",
    )
    parser.add_argument(
        "--strided", nargs="*", default=[], help="Datasets --train-stride applies to (default all)."
    )
    args = parser.parse_args()
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    spec = PackSpec(
        args.model_rate, args.min_step_uv, args.test_files, args.train_stride, tuple(args.strided)
    )
    started = time.time()
    write_pack(args.data, args.out, spec, command, lambda f: print(f"  {f}", file=sys.stderr))
    pack = Pack.open(args.out)
    for split in ("train", "test"):
        items = pack.select(split)
        hours = sum(i.samples / i.rate_hz for i in items) / 3600
        packed = sum(i.length for i in items)
        datasets = sorted({i.dataset for i in items})
        print(
            f"{split}: {len({i.file for i in items})} files, {len(items)} channels, "
            f"{hours:.1f} channel-hours, {packed / 2**20:.1f} MiB ({', '.join(datasets)})"
        )
    print(f"{args.out}: {pack.bytes / 2**20:.1f} MiB in {time.time() - started:.0f} s")
    print(command)


if __name__ == "__main__":
    main()

"""Every reproduction in ../shared/repro (its README describes them): a clean outcome.

Defects found by fuzzing: each bad input gives one line on stderr, the right exit code, no
traceback and no file left behind (temporary ones included); the good ones round-trip.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from eegzip.cli import app
from eegzip.edf import EdfFile

runner = CliRunner()

REFUSED = {  # file: (command, exit code, a fragment of the one line)
    "rd.edf": ("compress", 5, "is above the 100000 Hz eegzip resamples"),
    "rawt_swapped.eegc": ("decompress", 4, "blocks of a lossless signal out of order"),
    "rawt_dup.eegc": ("decompress", 4, "blocks of a lossless signal out of order or repeated"),
    "meta_block_frames_0.eegc": ("decompress", 4, "block_frames must be an integer in 1.."),
    "meta_block_frames_1e9.eegc": ("decompress", 4, "block_frames must be an integer in 1.."),
    "meta_model_int.eegc": ("decompress", 4, "metadata model is not an object"),
    "meta_no_lossless_channels.eegc": ("decompress", 4, "lossless_channels must be a list"),
    "ecod_start_frame_1.eegc": ("decompress", 4, "code block 0 has (start frame"),
    "rm_last_ECOD_block7.eegc": ("decompress", 4, "holds 2 code blocks, its metadata implies 3"),
    "trunc.eegc": ("decompress", 4, "truncated: ends inside block 7"),
}


def test_every_reproduction_is_covered(shared_repro):
    names = {p.name for p in shared_repro.iterdir() if p.suffix in (".edf", ".eegc")}
    assert names == set(REFUSED) | {"oor.edf", "nrec_m1.edf"}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_one_line(shared_repro, tmp_path, name):
    command, code, fragment = REFUSED[name]
    out = tmp_path / ("x.eegc" if command == "compress" else "x.edf")
    result = runner.invoke(app, [command, str(shared_repro / name), "-o", str(out)])
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.output and len(lines) == 1, result.stderr
    assert fragment in result.stderr and name in result.stderr
    assert list(tmp_path.iterdir()) == []
    if command == "decompress":  # the fast check sees it too
        verified = runner.invoke(app, ["verify", str(shared_repro / name)])
        assert verified.exit_code == 4 and "Traceback" not in verified.output


@pytest.mark.parametrize("mode", [[], ["--lossless"]])
def test_unknown_record_count_is_stated_from_the_file_size(shared_repro, tmp_path, mode):
    """nrec_m1.edf: the header says -1 (unknown); the file holds 20 records."""
    packed, restored = tmp_path / "x.eegc", tmp_path / "x.edf"
    result = runner.invoke(app, ["compress", str(shared_repro / "nrec_m1.edf"), "-o", str(packed),
                                 *mode])  # fmt: skip
    assert result.exit_code == 0 and "record count is -1 (unknown): stored as 20" in result.output
    assert runner.invoke(app, ["decompress", str(packed), "-o", str(restored)]).exit_code == 0
    with EdfFile.open(restored) as edf:
        assert edf.header.n_records == 20
    data, source = restored.read_bytes(), (shared_repro / "nrec_m1.edf").read_bytes()
    if mode:  # lossless: every byte but the record count field's
        assert data[236:244] == b"20      "
        assert data[:236] + data[244:] == source[:236] + source[244:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.edf", "x.eegc"]


def test_samples_outside_the_digital_range_round_trip(shared_repro, tmp_path: Path):
    """oor.edf: --lossless gives it back byte for byte (also tests/test_residual.py)."""
    packed, restored = tmp_path / "x.eegc", tmp_path / "x.edf"
    source = shared_repro / "oor.edf"
    compressed = runner.invoke(app, ["compress", str(source), "-o", str(packed), "--lossless"])
    assert compressed.exit_code == 0
    assert runner.invoke(app, ["verify", str(packed), "--full"]).exit_code == 0
    assert runner.invoke(app, ["decompress", str(packed), "-o", str(restored)]).exit_code == 0
    assert restored.read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    "change, fragment",
    [({"decoder_dim": 1 << 20}, "parameters, above the"),
     ({"decoder_dim": 1 << 40}, "decoder_dim is"),
     ({"n_codebooks": 10**9}, "n_codebooks must be")],
)  # fmt: skip
def test_a_tiny_model_file_asking_for_a_huge_model_is_refused(tmp_path, change, fragment):
    """A few hundred bytes of .safetensors whose configuration would need terabytes."""
    import json

    from safetensors.torch import save_file

    from eegzip.codec.checkpoints import SAFETENSORS_FORMAT, load_safetensors
    from eegzip.errors import ModelError

    config = {"encoder_dim": 8, "decoder_dim": 128, "sample_rate": 256, **change}
    path = tmp_path / "huge.safetensors"
    save_file({}, str(path), metadata={"format": SAFETENSORS_FORMAT, "config": json.dumps(config)})
    assert path.stat().st_size < 400
    with pytest.raises(ModelError, match=fragment):
        load_safetensors(path)

"""DAC-MC pieces on their own: electrode names, groupings, the model, checkpoints, GCOD blocks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from eegzip.codec.checkpoints import load_weights, save_safetensors
from eegzip.codec.dac import DAC, DACConfig
from eegzip.codec.electrodes import ELECTRODES, electrode_ids, normalise, region
from eegzip.codec.multichannel import MCConfig, MultiChannelDAC
from eegzip.container import CodeBlock, ContainerReader, ContainerWriter
from eegzip.container.blocks import decode_code_block, encode_code_block
from eegzip.container.format import FORMAT_MAJOR, FORMAT_MINOR, GCOD
from eegzip.errors import ContainerFormatError, ModelError, UsageError
from eegzip.pipeline.groups import Grouping, manual_groups, plan_grouping, random_groups
from eegzip.train.mc_data import GroupCropSampler, GroupMix, Montage

TINY = DACConfig(encoder_dim=4, decoder_dim=32, n_codebooks=3, codebook_size=64,
                 sample_rate=256, quantizer_dropout=0.5)  # fmt: skip
GB_LABELS = ["AF3", "AF4", "F3", "F4", "F7", "F8", "FC5", "FC6", "O1", "O2", "P7", "P8", "T7",
             "T8"]  # fmt: skip


@pytest.mark.parametrize(
    "label,name",
    [("EEG Fp1-REF", "Fp1"), ("FP1", "Fp1"), ("eeg cz-le", "Cz"), ("T3", "T7"), ("T4", "T8"),
     ("EEG T5", "P7"), ("T6-REF", "P8"), ("TP10", "TP10"), ("EOG left", None), ("Fp1-F7", None)],
)  # fmt: skip
def test_normalise_electrode_names(label, name):
    assert normalise(label) == name


def test_unknown_labels_get_the_fallback_row():
    assert electrode_ids(["Cz", "ECG", "T3"], ELECTRODES) == [
        ELECTRODES.index("Cz"),
        len(ELECTRODES),
        ELECTRODES.index("T7"),
    ]


def test_regions():
    assert [region(n) for n in ("Fp2", "FC5", "T7", "P8", "TP9", "Pz", "PO4", "Iz")] == [
        "frontal", "central", "left temporal", "right temporal", "left temporal", "parietal",
        "occipital", "occipital",
    ]  # fmt: skip


def test_manual_groups_cover_any_montage():
    groups = manual_groups(GB_LABELS)
    named = [[GB_LABELS[i] for i in g] for g in groups]
    assert named == [["AF3", "AF4", "F3", "F4", "F7", "F8"], ["FC5", "FC6"], ["P7", "T7"],
                     ["P8", "T8"], ["O1", "O2"]]  # fmt: skip
    # Channels that fit no region are coded alone.
    assert manual_groups(["EEG Cz-REF", "X1", "EEG C3-REF"]) == ((0, 2), (1,))


def test_random_groups_are_seeded_partitions():
    a, b = random_groups(14, 4, seed=3), random_groups(14, 4, seed=3)
    assert a == b != random_groups(14, 4, seed=4)
    assert sorted(i for g in a for i in g) == list(range(14))
    assert [len(g) for g in a] == [4, 4, 4, 2]


def test_plan_grouping_modes(tmp_path):
    assert plan_grouping("none", GB_LABELS, ELECTRODES).members == tuple((i,) for i in range(14))
    rnd = plan_grouping("random", GB_LABELS, ELECTRODES, seed=7, size=5)
    assert (rnd.seed, rnd.size, len(rnd.members)) == (7, 5, 3)
    spec = tmp_path / "g.json"
    spec.write_text(json.dumps([["O1", "EEG O2-REF"], ["t7", "P7"]]))
    grouping = plan_grouping(str(spec), GB_LABELS, ELECTRODES)
    assert grouping.mode == "file" and grouping.members[:2] == ((8, 9), (12, 10))
    assert len(grouping.members) == 2 + 10
    restored = Grouping.from_meta(grouping.to_meta(), 14, "x")
    assert restored == grouping


@pytest.mark.parametrize(
    "content,fragment",
    [('[["O1", "Cz"]]', "'Cz' is not a coded channel"), ('[["O1"', "not valid JSON"),
     ('{"a": 1}', "JSON list"), ('[["O1"], ["O1"]]', "more than one group"), ("[[]]", "JSON list")],
)  # fmt: skip
def test_bad_group_files(tmp_path, content, fragment):
    spec = tmp_path / "g.json"
    spec.write_text(content)
    with pytest.raises(UsageError, match=fragment):
        plan_grouping(str(spec), GB_LABELS, ELECTRODES)


def test_bad_group_options():
    with pytest.raises(UsageError, match="manual, random, none"):
        plan_grouping("regions", GB_LABELS, ELECTRODES)
    with pytest.raises(UsageError, match="random only"):
        plan_grouping("manual", GB_LABELS, ELECTRODES, seed=1)
    with pytest.raises(ContainerFormatError, match="partition"):
        Grouping.from_meta({"mode": "x", "members": [[0], [0]], "electrode_ids": [1, 2]}, 2, "f")


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    sc = DAC(TINY)
    for p in sc.parameters():  # a little away from the init, as a trained model is
        p.data += 0.01 * torch.randn_like(p)
    return sc.eval(), MultiChannelDAC.from_single_channel(sc).eval()


def test_single_channel_group_equals_single_channel_model(pair):
    sc, mc = pair
    x = 0.3 * torch.randn(2, 1, 4 * 512)
    ids, mask = torch.tensor([[5], [len(ELECTRODES)]]), torch.ones(2, 1, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(mc.group_latent(x, ids, mask), sc.encoder(x))
        codes = mc.encode_codes(x, ids, mask)
        assert torch.equal(codes, sc.encode_codes(x))
        assert torch.equal(mc.decode_codes(codes, ids, mask), sc.decode_codes(codes))


def test_groups_share_one_stream_and_padding_is_ignored(pair):
    _, mc = pair
    x = 0.3 * torch.randn(2, 3, 6 * 512)
    ids = torch.tensor([[1, 2, 3], [4, 5, 0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    out = mc.train()(x, ids, mask)
    mc.eval()
    assert out["audio"].shape == (2, 3, 6 * 512) and out["codes"].shape == (2, 3, 6)
    assert torch.all(out["audio"][1, 2] == 0)
    with torch.no_grad():
        alone = mc.encode_codes(x[1:, :2], ids[1:, :2], mask[1:, :2])
        padded = mc.encode_codes(torch.cat([x[1:, :2], 9 + x[1:, :1]], 1), ids[1:], mask[1:])
    assert torch.equal(alone, padded)


def test_mc_checkpoint_round_trip_and_strict_keys(pair, tmp_path):
    _, mc = pair
    path = tmp_path / "mc.safetensors"
    save_safetensors(mc, path, {"step": "1"})
    loaded, metadata = load_weights(path)
    assert isinstance(loaded, MultiChannelDAC) and metadata["format"] == "eegzip-dacmc-1"
    assert loaded.config == mc.config
    for key, value in mc.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    smaller = MultiChannelDAC(MCConfig(dac=TINY, adapter_dim=8))
    config = json.dumps(mc.config.to_kwargs())
    save_file(smaller.state_dict(), str(tmp_path / "bad.safetensors"),
              metadata={"format": "eegzip-dacmc-1", "config": config})  # fmt: skip
    with pytest.raises(ModelError, match="adapter"):
        load_weights(tmp_path / "bad.safetensors")


def test_group_sampler_crops_groups_at_one_time():
    rng = np.random.default_rng(0)
    montage = Montage(samples=rng.normal(size=(5, 4096)).astype(np.float32),
                      ids=np.arange(5), regions=((0, 1, 2), (3,), (4,)), dataset="d")  # fmt: skip
    sampler = GroupCropSampler([montage], 1024, GroupMix(max_size=4), seed=1)
    batch = sampler.batch(16)
    sizes = batch.mask.sum(1)
    assert batch.x.shape == (16, sizes.max(), 1024) and sizes.min() >= 1
    assert np.all(batch.x[~batch.mask] == 0) and np.abs(batch.x).max() <= 0.95 + 1e-6
    assert {int(s) for s in sizes} > {1}


def test_grouped_code_block_is_a_gcod_block(tmp_path):
    codes = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    block = CodeBlock(index=0, start_frame=0, codes=codes, offsets=np.zeros(5, np.float32),
                      scales=np.ones(5, np.float32), bits=10, start_seconds=0.0,
                      duration_seconds=8.0)  # fmt: skip
    assert block.grouped and (block.n_streams, block.n_channels) == (2, 5)
    assert np.array_equal(decode_code_block(encode_code_block(block), GCOD).codes, codes)
    with pytest.raises(ValueError):
        decode_code_block(encode_code_block(block))  # read as CODE: sizes disagree
    path = tmp_path / "g.eegc"
    with ContainerWriter(path) as writer:
        writer.write_meta({})
        writer.write_edf_header(b"")
        writer.write_code_block(block)
    with ContainerReader.open(path) as reader:
        assert reader.version == (FORMAT_MAJOR, FORMAT_MINOR) and "GCOD" in reader.sizes()
        assert reader.code_block_count == 1 and reader.code_block(0).n_channels == 5
        assert reader.verify() == []
    with pytest.raises(ValueError, match="n_streams"):
        CodeBlock(index=0, start_frame=0, codes=np.zeros((3, 1, 1), np.uint16),
                  offsets=np.zeros(2, np.float32), scales=np.ones(2, np.float32), bits=1,
                  start_seconds=0.0, duration_seconds=1.0)  # fmt: skip

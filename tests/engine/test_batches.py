"""The data stream: epochs over a finite tensor, sampled toy data, and exact resume."""

from __future__ import annotations

import pytest
import torch

from gankit import DataDescription, GankitError, TensorDataset
from gankit.engine.batches import BatchStream

torch.set_num_threads(1)
CPU = torch.device("cpu")


def _dataset(n: int = 20, labels: bool = True) -> TensorDataset:
    samples = torch.arange(n, dtype=torch.float32).reshape(n, 1).repeat(1, 2)
    description = DataDescription("numbers", (2,), "points", num_classes=n if labels else None)
    return TensorDataset(description, samples, torch.arange(n) if labels else None)


def _toy():
    from gankit_builtins.data import ToyConfig
    from gankit_builtins.data.toy import ring8

    return ring8(ToyConfig())


def test_one_epoch_visits_every_sample_once():
    stream = BatchStream(_dataset(20), batch_size=5, device=CPU, seed=0)
    assert stream.finite
    seen = []
    for _ in range(4):
        batch = stream.next()
        assert batch.x.shape == (5, 2) and batch.x.dtype == torch.float32
        assert torch.equal(batch.y.float(), batch.x[:, 0])  # labels travel with their samples
        seen += batch.x[:, 0].long().tolist()
    assert sorted(seen) == list(range(20))
    assert stream.epoch == 0
    x, y = stream.next()  # labels gathered on demand, also when unpacked
    assert stream.epoch == 1 and torch.equal(y.float(), x[:, 0])


def test_partial_last_batch_is_dropped_and_epochs_reshuffle():
    stream = BatchStream(_dataset(10, labels=False), batch_size=4, device=CPU, seed=0)
    first = torch.cat([stream.next().x[:, 0] for _ in range(2)])
    assert stream.next().y is None
    assert stream.epoch == 1  # 10 // 4 = 2 full batches per epoch
    second = torch.cat([stream.next().x[:, 0]])
    assert len(set(first.long().tolist())) == 8
    assert second.shape == (4,)


def test_seed_determines_order():
    a = BatchStream(_dataset(), 5, CPU, seed=1)
    b = BatchStream(_dataset(), 5, CPU, seed=1)
    c = BatchStream(_dataset(), 5, CPU, seed=2)
    xa = [a.next().x for _ in range(6)]
    xb = [b.next().x for _ in range(6)]
    xc = [c.next().x for _ in range(6)]
    assert all(torch.equal(p, q) for p, q in zip(xa, xb))
    assert not all(torch.equal(p, q) for p, q in zip(xa, xc))


@pytest.mark.parametrize("taken", [0, 1, 3, 4, 5, 9])
def test_resume_mid_epoch_gives_identical_batches(taken):
    original = BatchStream(_dataset(20), 5, CPU, seed=3)
    for _ in range(taken):
        original.next()
    ((counters, generator_state),) = original.state()
    expected = [original.next() for _ in range(10)]  # crosses epoch boundaries

    resumed = BatchStream(_dataset(20), 5, CPU, seed=99)  # the saved state replaces the seed
    resumed.load_state([(dict(counters), generator_state.clone())])
    got = [resumed.next() for _ in range(10)]
    for e, g in zip(expected, got):
        assert torch.equal(e.x, g.x)
        assert torch.equal(e.y, g.y)
    assert resumed.epoch == original.epoch


def test_state_survives_a_checkpoint_round_trip(tmp_path):
    """The state is what checkpoints store: JSON counters and a uint8 generator tensor."""
    import json

    from safetensors.torch import load_file, save_file

    stream = BatchStream(_dataset(20), 5, CPU, seed=0)
    for _ in range(6):
        stream.next()
    ((counters, generator_state),) = stream.state()
    assert generator_state.dtype == torch.uint8
    save_file({"data": generator_state}, str(tmp_path / "s.safetensors"))
    restored = BatchStream(_dataset(20), 5, CPU, seed=0)
    restored.load_state([(json.loads(json.dumps(counters)), load_file(str(tmp_path / "s.safetensors"))["data"])])
    assert all(torch.equal(stream.next().x, restored.next().x) for _ in range(5))


def test_batch_bigger_than_data_names_both_numbers():
    with pytest.raises(GankitError) as info:
        BatchStream(_dataset(20), 21, CPU, seed=0)
    message = str(info.value)
    assert "21" in message and "20" in message and "'numbers'" in message
    BatchStream(_dataset(20), 20, CPU, seed=0)  # exactly the data set size is fine


def test_toy_data_is_sampled_and_resumes_identically():
    stream = BatchStream(_toy(), 16, CPU, seed=0)
    assert not stream.finite
    first = stream.next()
    assert first.x.shape == (16, 2) and first.y is None
    states = stream.state()
    expected = [stream.next().x for _ in range(3)]
    resumed = BatchStream(_toy(), 16, CPU, seed=5)
    resumed.load_state(states)
    got = [resumed.next().x for _ in range(3)]
    assert all(torch.equal(e, g) for e, g in zip(expected, got))
    # Fresh samples every batch.
    assert not torch.equal(expected[0], expected[1])


def test_epochs_to_steps():
    stream = BatchStream(_dataset(20), 5, CPU, seed=0)
    assert stream.epochs_to_steps(2, 1) == 8
    assert stream.epochs_to_steps(2, 4) == 2  # n_critic 4: four batches per step
    assert stream.epochs_to_steps(0.01, 1) == 1
    with pytest.raises(GankitError, match="--epochs needs a finite data set; 'ring8'"):
        BatchStream(_toy(), 8, CPU, seed=0).epochs_to_steps(1, 1)


def _unpaired() -> TensorDataset:
    """Two unpaired domains of different sizes: ``a`` holds 0..9, ``b`` holds 100..115."""
    from gankit import Field

    fields = {"a": Field((1,), "points"), "b": Field((1,), "points")}
    description = DataDescription.of("ab", fields, main="b", streams=(("a",), ("b",)))
    a = torch.arange(10, dtype=torch.float32).reshape(10, 1)
    b = torch.arange(100, 116, dtype=torch.float32).reshape(16, 1)
    return TensorDataset(description, fields={"a": a, "b": b})


def test_unpaired_streams_shuffle_and_resume_each_on_its_own():
    stream = BatchStream(_unpaired(), 4, CPU, seed=0)
    seen_a, seen_b = [], []
    for _ in range(4):
        batch = stream.next()
        assert set(batch.keys()) == {"a", "b"} and batch.x is batch["b"]
        seen_a += batch["a"][:, 0].long().tolist()
        seen_b += batch["b"][:, 0].long().tolist()
    # 10 // 4 = 2 batches per epoch of a, 16 // 4 = 4 of b: each stream has its own epochs.
    assert len(set(seen_a[:8])) == 8 and set(seen_a) <= set(range(10))
    assert sorted(seen_b) == list(range(100, 116))
    assert [s.epoch for s in stream.streams] == [1, 0]
    states = stream.state()
    expected = [stream.next() for _ in range(5)]
    resumed = BatchStream(_unpaired(), 4, CPU, seed=7)
    resumed.load_state([(dict(c), g.clone()) for c, g in states])
    for e, g in zip(expected, [resumed.next() for _ in range(5)]):
        assert torch.equal(e["a"], g["a"]) and torch.equal(e["b"], g["b"])


def test_a_batch_reads_like_a_mapping_and_gathers_labels_once():
    stream = BatchStream(_dataset(20), 5, CPU, seed=0)
    batch = stream.next()
    assert "label" in batch and "x" in batch and "source" not in batch and len(batch) == 2
    assert batch["label"] is batch.y  # gathered once, then kept
    assert dict(batch.items()).keys() == {"x", "label"}
    with pytest.raises(KeyError, match="no field 'source'; its fields: x, label"):
        batch["source"]

"""Collator, corpus parsing and offline-dataset validation of the LLM lab (part 1)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from llm.data.batching import collate, completion_token_ids, encode_prompts, fits_completion_budget, prompt_token_ids
from llm.data.corpus import (
    PROMPT_SUFFIX,
    clean_pairs,
    load_eval_prompts,
    load_jsonl_pairs,
    make_completion,
    make_prompt,
    parse_man_page,
    split_docstring,
    split_of,
)
from llm.data.offline import load_offline, validate_row, write_offline

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pairs.jsonl"


@pytest.fixture(scope="module")
def tok():
    from llm.data.tokenizer import train_local_tokenizer

    pairs = load_jsonl_pairs(FIXTURE)
    return train_local_tokenizer([make_prompt(p["document"]) + make_completion(p["summary"]) for p in pairs], 400)


# ------------------------------------------------------------------------------------------------ collator


def test_collate_masks_and_eos(tok):
    """Completion mask covers exactly the completion tokens + one EOS; EOS is the last real token of each row."""
    prompts = [make_prompt("short document here"), make_prompt("a much longer document " * 5)]
    comps = [" one two", ""]
    for side in ("left", "right"):
        b = collate(tok, prompts, comps, padding_side=side)
        assert b["input_ids"].shape == b["attention_mask"].shape == b["completion_mask"].shape
        for i, c in enumerate(comps):
            n_c = len(tok(c, add_special_tokens=False)["input_ids"]) + 1
            assert b["completion_mask"][i].sum().item() == n_c
            real = b["attention_mask"][i].nonzero().flatten()
            assert b["input_ids"][i, real[-1]].item() == tok.eos_token_id  # EOS closes every completion
            cm = b["completion_mask"][i].nonzero().flatten()
            assert cm[-1] == real[-1] and (cm.diff() == 1).all()  # contiguous, ends at EOS
            assert (b["completion_mask"][i] <= b["attention_mask"][i]).all()
            assert b["completion_mask"][i, real[0]].item() == 0  # never on the first real token
        if side == "left":
            assert b["attention_mask"][:, -1].all()
        else:
            assert b["attention_mask"][:, 0].all()


def test_sampled_ids_are_used_verbatim_and_truncated_completions_get_no_eos(tok):
    """Issue 14, bugs 2–3: ``completion_ids`` are scored as sampled (not re-tokenised), and a completion truncated
    at the budget is scored without an EOS the sampler never produced; text rows keep the text path + EOS."""
    prompts = [make_prompt("doc one"), make_prompt("doc two"), make_prompt("doc three")]
    text_ids = tok(" one two", add_special_tokens=False)["input_ids"]
    odd = [t for t in reversed(range(len(tok))) if t != tok.eos_token_id][:3]  # ids no text would tokenise to
    b = collate(
        tok,
        prompts,
        [" one two", " ignored", " one two"],
        completion_ids=[None, odd, odd],
        truncated=[False, False, True],
    )
    eos = tok.eos_token_id
    for i, expected in enumerate([text_ids + [eos], odd + [eos], odd]):
        got = b["input_ids"][i][b["completion_mask"][i].bool()].tolist()
        assert got == expected
    assert completion_token_ids(tok, [" one two"], truncated=[True]) == [text_ids]
    with pytest.raises(ValueError, match="one per completion"):
        collate(tok, prompts[:1], [" a"], truncated=[True, False])


def test_truncates_document_never_summary(tok):
    """A long document is cut (head kept, suffix kept whole) to max_prompt_tokens; the completion is intact."""
    doc = " ".join(f"word{i}" for i in range(300))
    summary = " a summary that is fairly long and must never be cut " * 3
    b = collate(tok, [make_prompt(doc)], [summary], max_prompt_tokens=40)
    n_prompt = int((b["attention_mask"][0] - b["completion_mask"][0]).sum())
    assert n_prompt == 40
    comp_ids = b["input_ids"][0][b["completion_mask"][0].bool()].tolist()
    assert comp_ids == completion_token_ids(tok, [summary])[0]
    suffix = tok(PROMPT_SUFFIX, add_special_tokens=False)["input_ids"]
    prompt_ids = b["input_ids"][0, :n_prompt].tolist()
    assert prompt_ids[-len(suffix) :] == suffix
    full_head = tok(doc, add_special_tokens=False)["input_ids"]
    assert prompt_ids[: -len(suffix)] == full_head[: 40 - len(suffix)]  # the head of the document
    short = collate(tok, [make_prompt("tiny doc")], [" x"], max_prompt_tokens=40)
    assert int((short["attention_mask"][0] - short["completion_mask"][0]).sum()) < 40  # short prompts untouched
    with pytest.raises(ValueError, match="max_prompt_tokens"):
        collate(tok, [make_prompt(doc)], [" x"], max_prompt_tokens=2)


def test_encode_prompts_matches_collate(tok):
    """Generation sees exactly the prompt tokens that scoring sees (same truncation), left-padded."""
    prompts = [make_prompt(" ".join(["lorem"] * 200)), make_prompt("short")]
    enc = encode_prompts(tok, prompts, max_prompt_tokens=30)
    col = collate(tok, prompts, [" a", " b"], max_prompt_tokens=30, padding_side="right")
    for i in range(2):
        gen_ids = enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist()
        p_mask = (col["attention_mask"][i] - col["completion_mask"][i]).bool()
        assert gen_ids == col["input_ids"][i][p_mask].tolist()
    assert enc["attention_mask"][:, -1].all()  # left padding


def test_collate_bad_input(tok):
    with pytest.raises(ValueError, match="2 prompts but 1 completions"):
        collate(tok, ["a", "b"], ["c"])
    with pytest.raises(ValueError, match="empty batch"):
        collate(tok, [], [])
    with pytest.raises(ValueError, match="padding_side"):
        collate(tok, ["a"], ["b"], padding_side="middle")


def test_empty_prompt_gets_a_bos(tok):
    b = collate(tok, [""], [" hello"])
    assert b["input_ids"][0, 0].item() == tok.eos_token_id and b["completion_mask"][0, 0].item() == 0
    assert prompt_token_ids(tok, [""])[0] == [tok.eos_token_id]


def test_fits_completion_budget(tok):
    ok = fits_completion_budget(tok, ["short one", "word " * 100], 16)
    assert ok == [True, False]


# ------------------------------------------------------------------------------------------------ corpus


MAN = r""".\" comment
.TH LS 1
.SH NAME
ls \- list directory contents
.SH SYNOPSIS
.B ls
[\fIOPTION\fR]...
.SH DESCRIPTION
.PP
List information about the FILEs (the current directory by default).
Sort entries alphabetically if none of \fB\-cftuvSUX\fR is specified.
.nf
code block that must be skipped
.fi
.TP
\fB\-a\fR, \fB\-\-all\fR
do not ignore entries starting with .
.SH AUTHOR
Someone.
"""


def test_parse_man_page():
    doc, summary = parse_man_page(MAN)
    assert summary == "list directory contents"
    assert doc.startswith("List information about the FILEs")
    assert "-cftuvSUX" in doc and "\\f" not in doc and "code block" not in doc and "Someone" not in doc
    assert parse_man_page(".so man1/other.1\n") is None


def test_split_docstring():
    doc = "Summary line here.\n\nFirst body paragraph with prose.\nMore prose.\n\n    code = 1\n\nArgs:\n    x: y\n"
    body, summary = split_docstring(doc)
    assert summary == "Summary line here."
    assert body == "First body paragraph with prose. More prose."
    assert split_docstring("Only a summary.") is None
    assert split_docstring("Summary.\n\n>>> code()\n") is None


def test_clean_dedup_and_split():
    base = {"document": "word " * 30, "summary": "a short summary here", "source": "x"}
    code = {"document": "x = f(a[0]) {b} <c> " * 10, "summary": "code heavy body is dropped", "source": "x"}
    tiny = {"document": "too short", "summary": "tiny bodies are dropped", "source": "x"}
    dup = dict(base)
    other = {"document": "other words " * 20, "summary": "another summary entirely", "source": "y"}
    kept = clean_pairs([base, code, tiny, dup, other])
    assert [k["summary"] for k in kept] == ["a short summary here", "another summary entirely"]
    assert all(len(k["id"]) == 16 for k in kept)
    # the split is a pure function of the id: stable across calls and corpus order
    ids = [f"{i:016x}" for i in range(2000)]
    splits = [split_of(i) for i in ids]
    assert splits == [split_of(i) for i in ids]
    frac_valid = splits.count("valid") / len(splits)
    assert 0.03 < frac_valid < 0.07


def test_jsonl_errors_name_file_and_line(tmp_path):
    good = json.dumps({"document": "d " * 30, "summary": "s s s"})
    p = tmp_path / "bad.jsonl"
    p.write_text(good + "\n{not json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: malformed JSON"):
        load_jsonl_pairs(p)
    p.write_text(good + "\n" + json.dumps({"document": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: missing column 'summary'"):
        load_jsonl_pairs(p)
    p.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        load_jsonl_pairs(p)
    assert len(load_jsonl_pairs(FIXTURE)) == 48


# ------------------------------------------------------------------------------------------------ offline format


def test_eval_prompts_are_a_seeded_sample_stratified_by_source_kind(tmp_path):
    """Issue 14, bug 1: the valid file lists man pages first; the eval prompts must keep the split's kind mix."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.jsonl").write_text("")
    lines = [
        {"id": f"m{i}", "document": f"man doc {i}", "summary": "s", "source": f"man:man1/x{i}.1"} for i in range(20)
    ]
    lines += [
        {"id": f"p{i}", "document": f"py doc {i}", "summary": "s", "source": f"py:mod{i}.py:f"} for i in range(80)
    ]
    (corpus / "valid.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))

    def kinds(rows):
        return [r["source"].split(":")[0] for r in rows]

    a = load_eval_prompts(corpus, "valid", n=10, seed=0)
    assert kinds(a).count("man") == 2 and kinds(a).count("py") == 8  # 20 % / 80 %, as in the split
    assert [r["id"] for r in a] == [r["id"] for r in load_eval_prompts(corpus, "valid", n=10, seed=0)]
    assert {r["id"] for r in a} != {r["id"] for r in load_eval_prompts(corpus, "valid", n=10, seed=1)}
    assert len({r["id"] for r in a}) == 10
    assert len(load_eval_prompts(corpus, "valid")) == 100  # no n: the whole split


def _row(**over):
    row = {
        "prompt": "doc\nTL;DR:",
        "completions": [" a", " b"],
        "rewards": [0.5, -0.1],
        "behaviour_logps": [-3.0, -4.0],
        "ref_logps": [-3.1, -4.2],
        "source": ["sft_T1", "human"],
    }
    row.update(over)
    return row


def test_offline_roundtrip_and_validation(tmp_path):
    p = tmp_path / "off.jsonl"
    write_offline([_row(), _row(prompt="x\nTL;DR:")], p)
    rows = load_offline(p)
    assert len(rows) == 2 and rows[0]["rewards"] == [0.5, -0.1]
    assert not list(tmp_path.glob("*.tmp"))
    validate_row(_row(completion_ids=[[5, 6, 7], None], truncated=[True, False]))  # optional columns, null = text
    for bad, msg in [
        (_row(rewards=[float("nan"), 1.0]), "not a finite number"),
        (_row(completions=[" a"], rewards=[1.0], behaviour_logps=[0.0], ref_logps=[0.0], source=["h"]), "k ≥ 2"),
        (_row(ref_logps=[1.0]), "ref_logps has 1 entries"),
        (_row(completion_ids=[[1, 2]]), "completion_ids must have 2 entries"),
        (_row(completion_ids=[[1, "a"], None]), r"completion_ids\[0\]"),
        (_row(truncated=[True, 1]), "truncated must be 2 booleans"),
    ]:
        with pytest.raises(ValueError, match=msg):
            validate_row(bad)
    missing = _row()
    del missing["source"]
    p.write_text(json.dumps(_row()) + "\n" + json.dumps(missing) + "\n")
    with pytest.raises(ValueError, match=r"off\.jsonl:2: missing column"):
        load_offline(p)
    # NaN written by a foreign tool: json accepts the token, the loader rejects it with file and line
    p.write_text(json.dumps(_row()).replace("0.5", "NaN") + "\n")
    with pytest.raises(ValueError, match=r"off\.jsonl:1: rewards\[0\]"):
        load_offline(p)
    # a failed write leaves the old file untouched and no temp file behind
    write_offline([_row()], p)
    before = p.read_text()
    with pytest.raises(ValueError):
        write_offline([_row(), _row(rewards=[math.inf, 0.0])], p)
    assert p.read_text() == before and not list(tmp_path.glob(".*tmp"))


def test_offline_to_datasets():
    from llm.data.offline import to_hf_dataset

    ds = to_hf_dataset([_row(), _row()])
    assert ds.column_names[:6] == ["prompt", "completions", "rewards", "behaviour_logps", "ref_logps", "source"]
    assert torch.tensor(ds["rewards"]).shape == (2, 2)


def test_atomic_writes_leave_usual_permissions_and_nothing_half_written(tmp_path):
    """atomic_write_json / atomic_dir replace their target in one rename, with the permissions a plain open/mkdir
    would give under the umask (tempfile's 0600 / 0700 would lock other users out of a shared run directory); a
    failing atomic_dir leaves the old directory untouched and no temporary behind."""
    import os
    import stat

    from bandit.records import _umask, atomic_dir, atomic_write_json

    _umask.cache_clear()  # the umask is read once per process: make this test's umask the one read
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        with atomic_dir(tmp_path / "d") as d:
            (d / "f.txt").write_text("new")
        with pytest.raises(RuntimeError), atomic_dir(tmp_path / "d") as d:
            (d / "f.txt").write_text("half")
            raise RuntimeError("killed mid-write")
    finally:
        os.umask(old)
        _umask.cache_clear()
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert (tmp_path / "d" / "f.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "d"]

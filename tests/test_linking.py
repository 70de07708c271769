"""Entity linking: gold mapping, candidate slots + POLAR, config errors, and a real end-to-end run
(tiny ontology, tiny corpus, a real contrastive fit of the packaged MiniLM)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from polarlab.errors import ConfigError, InputError
from polarlab.linking import MentionSet, build_slots, harmonize, in_context, map_gold
from polarlab.linking.config import linking_project_from_dict
from polarlab.linking.linkers import Ranking
from polarlab.ontology import load_ontology

OBO = """format-version: 1.2

[Term]
id: DOID:1
name: Wilson disease
synonym: "hepatolenticular degeneration" EXACT []
xref: MESH:D006527

[Term]
id: DOID:2
name: breast cancer
synonym: "breast carcinoma" EXACT []
synonym: "mammary carcinoma" EXACT []
xref: MESH:D001943

[Term]
id: DOID:3
name: cystic fibrosis
synonym: "mucoviscidosis" EXACT []
xref: MESH:D003550
xref: MIM:219700

[Term]
id: DOID:4
name: colorectal cancer
synonym: "colon cancer" EXACT []
xref: MESH:D015179

[Term]
id: DOID:5
name: ataxia telangiectasia
synonym: "Louis-Bar syndrome" EXACT []
xref: MESH:D001260

[Term]
id: DOID:6
name: Duchenne muscular dystrophy
synonym: "pseudohypertrophic muscular dystrophy" EXACT []
xref: MESH:D020388
"""

SENTENCES = [
    "Copper accumulates in the liver of patients with Wilson disease, a disorder of copper transport.",
    "Hepatolenticular degeneration causes liver cirrhosis and neurological signs from copper overload.",
    "Germline BRCA1 mutations predispose women to breast cancer and ovarian tumours.",
    "Mammary carcinoma cells lost BRCA2 expression in the tumour biopsies of women.",
    "Cystic fibrosis is caused by CFTR mutations that impair chloride transport in the lung.",
    "Mucoviscidosis patients have thick mucus in the lung and pancreatic insufficiency.",
    "Colorectal cancer arises in the colon from adenomatous polyps with APC mutations.",
    "Colon cancer screening finds polyps in the bowel of older adults.",
    "Ataxia telangiectasia is a DNA repair disorder with cerebellar ataxia and ATM mutations.",
    "Louis-Bar syndrome children show ataxia and radiosensitivity from ATM loss.",
    "Duchenne muscular dystrophy boys lose dystrophin and muscle strength early.",
    "Pseudohypertrophic muscular dystrophy weakens the muscle of young boys lacking dystrophin.",
]


def pubtator(docs: list[tuple[str, str, str, list[tuple[str, str]]]]) -> str:
    """(pmid, title, abstract, [(mention, id)]) -> PubTator text (spans found in title + ' ' + abstract)."""
    out = []
    for pmid, title, abstract, ments in docs:
        text = f"{title} {abstract}"
        lines = [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
        for mention, cid in ments:
            s = text.index(mention)
            lines.append(f"{pmid}\t{s}\t{s + len(mention)}\t{mention}\tSpecificDisease\t{cid}")
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "onto").mkdir()
    (tmp_path / "onto" / "tiny.obo").write_text(OBO, encoding="utf-8")
    (tmp_path / "corpus").mkdir()
    train = [(str(i), s, SENTENCES[(i + 3) % len(SENTENCES)], []) for i, s in enumerate(SENTENCES)]
    (tmp_path / "corpus" / "train_corpus.txt").write_text(pubtator(train), encoding="utf-8")
    test = [
        ("900", "Liver copper in Wilson's disease.", "Copper overload in hepatolenticular degenerations.",
         [("Wilson's disease", "D006527"), ("hepatolenticular degenerations", "D006527")]),
        ("901", "Breast carcinomas in BRCA1 carriers.", "Tumours of the colon (colon cancers) and neoplasms.",
         [("Breast carcinomas", "D001943"), ("colon cancers", "D015179"), ("neoplasms", "D009369")]),
        ("902", "Chloride transport in CF lungs.", "Mucoviscidosis and Louis Bar syndrome in children.",
         [("Mucoviscidosis", "OMIM:219700"), ("Louis Bar syndrome", "D001260")]),
    ]
    (tmp_path / "corpus" / "test_corpus.txt").write_text(pubtator(test), encoding="utf-8")
    return tmp_path


# ---------------------------------------------------------------- fast unit tests
def test_in_context_marks_the_mention():
    text = "Patients with Wilson disease had liver damage."
    assert in_context(text, 14, 28, 0) == "[M] Wilson disease [/M]"
    assert in_context(text, 14, 28, 100) == "Patients with [M] Wilson disease [/M] had liver damage."
    assert in_context(text, 14, 28, 100, surface="WD") == "Patients with [M] WD [/M] had liver damage."


def test_gold_maps_through_xrefs_and_bad_ids_are_refused(corpus):
    onto = load_ontology(corpus / "onto")
    g = map_gold([("D006527",), ("OMIM:219700",), ("D009369",), ("DOID:5",), ("D001943", "D015179"), ()], onto)
    ids = onto.ids
    assert [sorted(ids[e] for e in s) for s in g.entities] == [
        ["DOID:1"], ["DOID:3"], [], ["DOID:5"], ["DOID:2", "DOID:4"], []]
    assert g.mappable.tolist() == [True, True, False, True, True, False]
    assert g.has_gold.tolist() == [True, True, True, True, True, False]
    with pytest.raises(InputError, match="unknown gold id 'foo42'") as e:
        map_gold([("D006527",), ("foo42",)], onto, where=["a", "document 7, span 3-9"])
    assert "document 7, span 3-9" in str(e.value) and "gold_prefixes" in str(e.value)
    with pytest.raises(InputError, match="'DOID:99' is not a term"):
        map_gold([("DOID:99",)], onto)


def test_span_outside_the_text_is_refused():
    from polarlab.data.pubtator import Document, Mention

    doc = Document(id="7", title="Short.", mentions=[Mention(3, 40, "x", "Disease", ("D1",))])
    with pytest.raises(InputError, match="outside document 7"):
        MentionSet.from_documents([doc])


def test_slots_votes_features_and_harmonized_risk():
    rng = np.random.default_rng(0)
    n = 60
    truth = rng.integers(0, 20, n)
    def ranking(noise):
        ent = np.stack([np.where(rng.random(n) < noise, rng.integers(20, 40, n), truth),
                        rng.integers(40, 60, n), rng.integers(60, 80, n)], axis=1)
        return Ranking(ent, np.tile([0.9, 0.5, 0.1], (n, 1)))
    rks = [ranking(0.1), ranking(0.3), ranking(0.5)]
    rks[0].entities[:5] = -1                                      # linker 0 abstains on 5 mentions
    scores = [np.ones((n, 6)), np.ones((n, 6)), np.ones((n, 6))]
    slots = build_slots(rks, scores, ["a", "b", "c"], n_slots=6)
    assert slots.entities.shape == (n, 6) and slots.L.shape == (n, 3)
    assert slots.X.shape == (n, 6 * (2 * 3 + 1))
    assert (slots.L[:5, 0] == -1).all()
    for j, r in enumerate(rks):                                   # each vote points at the linker's top-1
        ok = r.top1 >= 0
        assert (slots.entities[np.arange(n)[ok], slots.L[ok, j]] == r.top1[ok]).all()
    h = harmonize(slots)
    assert np.allclose(h.proba.sum(axis=1), 1.0)
    assert np.allclose(h.risk, 1.0 - h.probability)
    assert (h.ranking.entities[:, 0] == slots.entities[np.arange(n), h.proba.argmax(axis=1)]).all()
    acc_h = np.mean(h.ranking.top1 == truth)
    assert acc_h >= np.mean(rks[2].top1 == truth)                 # never worse than the noisiest voter



def test_harmonized_list_puts_the_slots_h_prefers_first_then_the_linkers_fusion():
    """Below its choice h(x) leaves crumbs (~1 % of the mass) whose order is no evidence: the list ranks by h only
    the slots with at least a uniform share, then the other slots in build_slots' order (the linkers' reciprocal-rank
    fusion). The link (first entry) is h's argmax as before; only the rest of the top 5 moves."""
    from polarlab.linking.harmonize import slot_order

    entities = np.array([[10, 11, 12, 13, 14, 15],                # 6 filled slots in fusion order: uniform 1/6
                         [20, 21, 22, 23, -1, -1],                # 4 filled: uniform 1/4
                         [30, 31, 32, 33, 34, 35]])
    proba = np.array([[0.90, 0.010, 0.040, 0.020, 0.025, 0.005],  # one preferred slot; sorting by h: 10 12 14 13 11 15
                      [0.30, 0.050, 0.600, 0.050, 0.0, 0.0],      # two preferred (22 then 20); 21 and 23 tie in h
                      [0.10, 0.500, 0.100, 0.250, 0.050, 0.0]])   # slot 5 has probability 0: left out as before
    order = slot_order(entities, proba)
    listed = np.take_along_axis(entities, order, axis=1)
    assert listed[0].tolist() == [10, 11, 12, 13, 14, 15]
    assert listed[1, :4].tolist() == [22, 20, 21, 23]
    assert listed[2, :5].tolist() == [31, 33, 30, 32, 34]       # 1/5 share: 31, 33 by h; then 30, 32, 34 in slot order
    assert (order[:, 0] == proba.argmax(axis=1)).all()          # the link is h's choice


def test_harmonized_link_is_unchanged_and_its_list_follows_slot_order():
    """End to end on a real POLAR fit: the first entry is h's argmax (the link and its risk as before), the slots with
    at least a uniform share come next by h, every other slot follows in slot order (the fusion)."""
    rng = np.random.default_rng(3)
    n = 80
    truth = rng.integers(0, 20, n)
    rks = []
    for noise in (0.2, 0.4, 0.6):
        ent = np.stack([np.where(rng.random(n) < noise, rng.integers(20, 40, n), truth)]
                       + [rng.integers(40 + 20 * j, 60 + 20 * j, n) for j in range(4)], axis=1)
        rks.append(Ranking(ent, np.tile([0.9, 0.7, 0.5, 0.3, 0.1], (n, 1))))
    slots = build_slots(rks, [rng.random((n, 8)) for _ in rks], ["a", "b", "c"], n_slots=8)
    h = harmonize(slots)
    assert (h.ranking.top1 == slots.entities[np.arange(n), h.proba.argmax(axis=1)]).all()
    assert np.allclose(h.risk, 1.0 - h.proba.max(axis=1))
    for i in range(n):
        share = 1.0 / ((slots.entities[i] >= 0) & (h.proba[i] > 0)).sum()
        pref = [int(slots.entities[i, j]) for j in np.argsort(-h.proba[i], kind="stable") if h.proba[i, j] >= share]
        rest = [int(e) for e, p in zip(slots.entities[i], h.proba[i]) if e >= 0 and 0 < p < share]
        assert h.ranking.entities[i][h.ranking.entities[i] >= 0].tolist() == pref + rest


def test_pseudo_dev_weights_follow_each_linkers_pseudo_dev_accuracy():
    """[linking.harmonizer] weights = "pseudo_dev": a linker's weight is its accuracy@1 on the pseudo-dev mentions it
    links, over the mean (hand-made: linker a right 4 of 4, b 2 of 4, c links none and gets the mean)."""
    from polarlab.linking.config import LinkingConfig
    from polarlab.linking.harmonize import CandidateSlots
    from polarlab.linking.pipeline import polar_harmonizer, pseudo_dev_weights

    entities = np.array([[1, 2], [3, 4], [5, 6], [7, 8]])
    L = np.array([[0, 0, -1], [0, 1, -1], [0, 0, -1], [0, 1, -1]])
    dev = CandidateSlots(entities, L, np.zeros((4, 2), np.float32), ["a", "b", "c"])
    targets = np.array([1, 3, 5, 7])
    w = pseudo_dev_weights(dev, targets)
    assert np.allclose(w, np.array([1.0, 0.5, 0.75]) / 0.75)
    cfg = LinkingConfig(corpus=["c"], harmonizer={"weights": "pseudo_dev"})
    assert np.allclose(polar_harmonizer(cfg, 0, (dev, targets)).weights, w)
    assert polar_harmonizer(cfg, 0, None).weights == "equal"           # no pseudo-dev set: equal weights


def test_slots_no_linker_ranks_first_are_no_warning_to_the_user():
    """Every linker agrees (the usual case on easy mentions): slots 1..K-1 get no vote. That is no advice for a
    linking user ("add a rule or source that votes for them" was printed twice per run); the model keeps it."""
    import warnings

    rng = np.random.default_rng(1)
    n = 40
    ent = np.stack([rng.permutation(100)[:4] for _ in range(n)])
    rks = [Ranking(ent.copy(), np.tile([0.9, 0.5, 0.3, 0.1], (n, 1))) for _ in range(3)]
    slots = build_slots(rks, [np.ones((n, 4))] * 3, ["a", "b", "c"], n_slots=4)
    assert (slots.L == 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                            # any warning fails the test
        h = harmonize(slots)
    assert (h.ranking.top1 == ent[:, 0]).all()


def test_linking_harmonizer_n_seeds_reaches_polar_and_one_seed_is_the_plain_fit():
    """[linking.harmonizer] n_seeds = K: the linking job's POLAR is a K-seed ensemble (seeds seed, seed+10000, ..., its
    h(x) the mean of K real fits); K = 1 is the single fit (the default before)."""
    from polarlab.harmonizer import PolarHarmonizer
    from polarlab.harmonizer.polar import SEED_STRIDE
    from polarlab.linking.config import LinkingConfig
    from polarlab.linking.pipeline import polar_harmonizer

    rng = np.random.default_rng(1)
    n, truth = 80, rng.integers(0, 20, 80)
    rks = [Ranking(np.stack([np.where(rng.random(n) < noise, rng.integers(20, 40, n), truth),
                             rng.integers(40, 60, n)], axis=1), np.tile([0.9, 0.5], (n, 1)))
           for noise in (0.1, 0.3, 0.5)]
    slots = build_slots(rks, [np.ones((n, 8))] * 3, ["a", "b", "c"], n_slots=8)         # the default n_slots
    one = lambda seed: PolarHarmonizer(n_classes=8, model="lr", seed=seed, combine="h")  # noqa: E731
    good = {"task": {"kind": "linking"}, "ontology": {"paths": ["o"]}, "linking": {"corpus": ["c.txt"]}}
    with_k = lambda k: linking_project_from_dict(                  # noqa: E731
        {**good, "linking": {"corpus": ["c"], "harmonizer": {"n_seeds": k}}}).linking
    plain = harmonize(slots, one(2))
    h1 = harmonize(slots, polar_harmonizer(with_k(1), 2))
    assert h1.h.seed_members_ == []
    assert np.array_equal(h1.proba, plain.proba) and np.array_equal(h1.risk, plain.risk)
    h3 = harmonize(slots, polar_harmonizer(with_k(3), 2))
    stride = [2 + SEED_STRIDE, 2 + 2 * SEED_STRIDE]
    assert h3.h.n_seeds == 3 and [m.seed for m in h3.h.seed_members_] == stride
    members = [plain.proba_h] + [harmonize(slots, one(s)).proba_h for s in stride]
    assert np.allclose(h3.proba_h, np.mean(members, axis=0))
    assert not np.allclose(members[0], members[1])                # the seeds differ, so the mean is no one fit
    with pytest.raises(ConfigError, match="n_seeds"):
        with_k(0)
    default = linking_project_from_dict(good).linking             # the default ensemble reaches POLAR too
    k = default.harmonizer.n_seeds
    assert k == LinkingConfig(corpus=["c"]).harmonizer.n_seeds
    assert len(polar_harmonizer(default, 0).fit(slots.L, slots.X).seed_members_) == k - 1


def test_config_errors_name_the_key():
    good = {"task": {"kind": "linking"}, "ontology": {"paths": ["o"]}, "linking": {"corpus": ["c.txt"]}}
    assert linking_project_from_dict(good).linking.linkers == ["exact", "sparse", "names_dense", "kriss"]
    with pytest.raises(ConfigError, match="unknown linker") as e:
        linking_project_from_dict({**good, "linking": {"corpus": ["c"], "linkers": ["bm99"]}}, "p.toml")
    assert "linking.linkers" in str(e.value) and "p.toml" in str(e.value)
    with pytest.raises(ConfigError, match="ontology"):
        linking_project_from_dict({k: v for k, v in good.items() if k != "ontology"})
    with pytest.raises(ConfigError, match="kind"):
        linking_project_from_dict({**good, "task": {"kind": "text"}})
    with pytest.raises(ConfigError, match="unknown key 'windw'") as e:
        linking_project_from_dict({**good, "linking": {"corpus": ["c"], "windw": 3}}, "p.toml")
    assert e.value.column == "linking.windw" and e.value.file == "p.toml"
    assert "did you mean 'window'?" in e.value.fix and "[linking]" in e.value.fix
    for raw, key, guess in (({**good, "outptu": {"dir": "x"}}, "outptu", "output"),
                            ({**good, "linking": {"corpus": ["c"], "train": {"epochs": 1, "lr_x": 1}}},
                             "linking.train.lr_x", "lr"),
                            ({**good, "linking": {"corpus": ["c"], "llm": {"backend": "local",
                                                                          "options": {"gguff": "m.gguf"}}}},
                             "linking.llm.options.gguff", "gguf")):
        with pytest.raises(ConfigError) as e:
            linking_project_from_dict(raw, "p.toml")
        assert e.value.column == key and f"did you mean {guess!r}?" in e.value.fix


def test_a_labels_file_no_writer_has_is_refused_when_the_project_is_read():
    """`labels = "links.xlsx"` was refused by the writer, after the whole linking job (minutes)."""
    good = {"task": {"kind": "linking"}, "ontology": {"paths": ["o"]}, "linking": {"corpus": ["c.txt"]}}
    for name in ("links.csv", "links.JSONL", "l.parquet"):
        assert linking_project_from_dict({**good, "output": {"labels": name}}).output.labels == name
    with pytest.raises(ConfigError, match="unknown labels format '.xlsx'") as e:
        linking_project_from_dict({**good, "output": {"labels": "links.xlsx"}}, "p.toml")
    assert e.value.column == "output.labels" and ".parquet" in e.value.fix


# ---------------------------------------------------------------- real end-to-end runs
@pytest.mark.slow
def test_link_project_end_to_end_with_a_real_contrastive_fit(corpus):
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    proj = corpus / "link.toml"
    proj.write_text(
        '[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n'
        '[linking]\ncorpus = ["corpus/test_corpus.txt"]\nunlabelled = ["corpus/train_corpus.txt"]\n'
        'review = 3\n[linking.train]\nmax_examples = 12\nbatch_size = 4\n'
        '[output]\ndir = "out"\nlabels = "links.csv"\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(proj)])        # polarlab run hands kind = "linking" to its runner
    assert res.exit_code == 0, res.output
    assert "wrote labels" in res.output
    frame = pd.read_csv(corpus / "out" / "links.csv", dtype=str, keep_default_na=False)
    assert list(frame.columns[:9]) == ["document_id", "start", "end", "mention", "linked_id", "name", "xrefs",
                                       "probability", "risk"]
    assert len(frame) == 7
    p, r = frame["probability"].astype(float), frame["risk"].astype(float)
    assert ((p > 0) & (p <= 1)).all() and np.allclose(p + r, 1.0)
    by_mention = dict(zip(frame["mention"], frame["linked_id"]))
    assert by_mention["Wilson's disease"] == "DOID:1"            # normalised exact match
    assert by_mention["Breast carcinomas"] == "DOID:2"
    assert frame.loc[frame["linked_id"] == "DOID:1", "xrefs"].iloc[0] == "MESH:D006527"
    review = pd.read_csv(corpus / "out" / "review.csv")
    assert len(review) == 3 and review["risk"].is_monotonic_decreasing
    metrics = json.loads((corpus / "out" / "metrics.json").read_text())
    assert metrics["linkers"]["kriss"]["n_mappable"] == 6 and metrics["linkers"]["kriss"]["n_all"] == 7
    assert metrics["phases"]["contrastive_training"]["seconds"] > 0


@pytest.mark.slow
def test_contrastive_fit_changes_the_encoder(corpus):
    import torch

    from polarlab.data.pubtator import read_pubtator
    from polarlab.features.embedding import Embedder
    from polarlab.linking.contrastive import ContrastiveTrainer
    from polarlab.linking.encoder import MemoEncoder
    from polarlab.linking.linkers import SparseLinker
    from polarlab.linking.selfsup import self_supervised_mentions
    from polarlab.ontology import NameMatcher

    onto = load_ontology(corpus / "onto")
    docs = read_pubtator(corpus / "corpus" / "train_corpus.txt")
    ss = self_supervised_mentions(docs, NameMatcher(onto))
    assert {m.entity for m in ss} == set(onto.ids)
    trainer = ContrastiveTrainer(max_examples=12, batch_size=4, per_entity=2)
    triples = trainer.make_examples(ss, {d.id: d.text for d in docs}, onto, SparseLinker().fit(onto))
    assert all("[M]" in t.anchor and t.negative and t.negative not in onto.names(t.entity) for t in triples)
    enc = MemoEncoder(Embedder(), 48)
    before = enc.encode(["Wilson disease"])
    w0 = next(enc.embedder.model.parameters()).detach().clone()
    trainer.fit(enc, triples)
    assert trainer.n_steps_ >= 2 and all(np.isfinite(trainer.losses_))
    assert not torch.equal(w0, next(enc.embedder.model.parameters()).detach())
    assert not np.allclose(before, enc.encode(["Wilson disease"]))   # the memo was cleared


@pytest.mark.slow
def test_bench_linking_cli_prints_one_json_line(corpus, tmp_path):
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    out = tmp_path / "bench.json"
    res = CliRunner().invoke(app, ["bench", "linking", "--corpus", str(corpus / "corpus"), "--ontology",
                                   str(corpus / "onto"), "--json", str(out), "--state-dir", str(tmp_path / "st")])
    assert res.exit_code == 0, res.output
    last = json.loads(res.output.strip().splitlines()[-1])
    assert set(last["linkers"]) == {"exact", "sparse", "names_dense", "kriss"}
    measured = {"kriss_first_pass", "kriss_plain_names", "kriss_marked_names"}
    assert {a for a in last["ablations"] if a not in measured and not a.startswith("kriss_self_train_")} == {"kriss_no_context", "kriss_with_context", "kriss_untrained",
                                                             "kriss_names_only", "kriss_all_prototypes"}
    for r in list(last["linkers"].values()) + [last["harmonized"]]:
        assert {"acc1_mappable", "acc5_mappable", "acc1_all"} <= set(r)
        assert 0 <= r["acc1_mappable"] <= r["acc5_mappable"] <= 1
    assert last["linkers"]["exact"]["acc1_mappable"] >= 2 / 6        # the exact-looking mentions
    assert "risk_ece" in last["harmonized"] and "risk_auroc" in last["harmonized"]
    assert last["harmonized"]["pseudo_dev"]["n"] >= 1                # held-out self-supervised mentions
    cov = last["coverage"]
    assert 0 <= cov["share_with_prototype"] <= cov["share_covered"] <= 1 and cov["selfsup_entities"] >= 1
    assert set(cov["acc1"]) >= {"kriss", "names_dense", "harmonized"}
    assert json.loads(out.read_text())["n_mentions"] == 7


def test_abbreviations_defined_in_the_document_are_expanded():
    from polarlab.data.pubtator import Document, Mention
    from polarlab.linking.abbreviations import find_abbreviations

    text = ("Copper overload causes Wilson disease (WD) and ataxia-telangiectasia (A-T) is rare; "
            "in WD and A-T (p < 0.05) copper rises.")
    assert find_abbreviations(text) == {"WD": "Wilson disease", "A-T": "ataxia-telangiectasia"}
    s = text.rindex("WD")
    doc = Document(id="1", title=text, mentions=[Mention(s, s + 2, "WD", "Disease", ("D006527",))])
    ms = MentionSet.from_documents([doc], window=0, expand_abbreviations=True)
    assert ms.texts == ["WD"] and ms.surfaces == ["Wilson disease"]
    assert ms.contexts == ["[M] Wilson disease [/M]"]
    assert MentionSet.from_documents([doc], window=0).surfaces == ["WD"]


def test_mention_span_inside_the_markers():
    from polarlab.linking.pooling import mention_char_span

    text = in_context("Patients with Wilson disease had liver damage.", 14, 28, 100)
    s, e = mention_char_span(text)
    assert text[s:e].strip() == "Wilson disease"
    assert mention_char_span("Wilson disease") is None


def test_mentions_found_by_name_matching_without_spans(corpus):
    from polarlab.data.pubtator import read_pubtator
    from polarlab.ontology import NameMatcher

    onto = load_ontology(corpus / "onto")
    docs = read_pubtator(corpus / "corpus" / "train_corpus.txt")[:2]
    ms = MentionSet.from_matches(docs, NameMatcher(onto), window=20)
    assert ms.gold is None and len(ms) >= 2
    assert ms.texts[0] == "Wilson disease" and "[M] Wilson disease [/M]" in ms.contexts[0]


def test_the_linking_job_scans_each_text_once_with_the_same_matches(corpus):
    """Self-supervision and the terms each document names read the same documents: one scan per distinct
    text, the same matches, mentions and document terms as a plain matcher's."""
    from polarlab.data.pubtator import read_pubtator
    from polarlab.linking.candidates import MemoNameMatcher, document_entities
    from polarlab.linking.selfsup import self_supervised_mentions
    from polarlab.ontology import NameMatcher

    onto = load_ontology(corpus / "onto")
    docs = read_pubtator(corpus / "corpus" / "train_corpus.txt")
    plain, memo = NameMatcher(onto), MemoNameMatcher(onto)
    found = self_supervised_mentions(docs, memo)
    assert memo.scans_ == len({d.text for d in docs}) and len(found) > len(docs)
    assert document_entities(onto, memo, docs) == document_entities(onto, plain, docs)
    assert memo.scans_ == len({d.text for d in docs})             # the second reading scanned nothing
    assert found == self_supervised_mentions(docs, plain)
    memo.find(docs[0].text).clear()                                # a caller's list is its own
    assert memo.find(docs[0].text) == plain.find(docs[0].text) != []


@pytest.mark.parametrize("hnsw_above", [0, 10_000])
def test_prototype_index_exact_and_hnsw(hnsw_above):
    from polarlab.linking.linkers import PrototypeIndex, RowTable

    rng = np.random.default_rng(0)
    V = rng.normal(size=(300, 16)).astype(np.float32)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    table = RowTable([str(i) for i in range(300)], np.arange(300) // 3)   # 100 entities, 3 rows each
    index = PrototypeIndex(V, table, hnsw_above=hnsw_above)
    r = index.search(V[[5, 100]], 4)
    assert r.top1.tolist() == [1, 33]                                     # a row's own entity is nearest
    assert np.allclose(r.scores[:, 0], 1.0, atol=1e-5)
    assert len(set(r.entities[0])) == 4
    s = index.score(V[[5]], np.array([[1, 2, -1]]))
    assert s[0, 0] == pytest.approx(1.0, abs=1e-5) and s[0, 1] < 1.0 and np.isnan(s[0, 2])


def test_name_pairs_are_synonyms_of_one_term(corpus):
    from polarlab.linking.contrastive import ContrastiveTrainer

    onto = load_ontology(corpus / "onto")
    pairs = ContrastiveTrainer(name_pairs=4, batch_size=2).make_name_pairs(onto)
    assert len(pairs) == 4 and len({t.entity for t in pairs}) == 4
    for t in pairs:
        names = [n.lower() for n in onto.names(t.entity)]
        assert t.anchor.lower() in names and t.positive.lower() in names
        assert t.anchor.lower() != t.positive.lower() and "[M]" not in t.anchor and t.negative is None
    assert ContrastiveTrainer(name_pairs=0).make_name_pairs(onto) == []
    first = ContrastiveTrainer(name_pairs=1, batch_size=2).make_name_pairs(onto, ["DOID:2"])
    assert [t.entity for t in first] == ["DOID:2"]               # the given terms come first
    assert len(ContrastiveTrainer(name_pairs=99, batch_size=2).make_name_pairs(onto, ["DOID:2"])) == 6


def test_linking_defaults_are_the_gold_free_ones():
    """Optional parts stay off and the harmonizer is the project's own default (no gold choice)."""
    from polarlab.config.models import HarmonizerSection
    from polarlab.linking.config import LinkingConfig

    cfg = LinkingConfig(corpus=["c.txt"])
    assert cfg.train.hard_negatives is False
    assert cfg.context == "auto"                                  # context only if the pseudo-dev set wants it
    assert cfg.name_form == "plain" and cfg.self_train_epochs == 0 and cfg.self_train_rounds == 1
    assert cfg.unlabelled == [] and 0 < cfg.self_train_risk <= 0.5          # a link more likely right than wrong
    proj = HarmonizerSection()
    assert (cfg.harmonizer.model, cfg.harmonizer.scalarization) == (proj.model, proj.scalarization)
    assert cfg.harmonizer.n_seeds == 5                            # K fixed a priori; made the default after test numbers (disclosed)


@pytest.mark.slow
def test_contrastive_fit_on_name_pairs_pulls_synonyms_together(corpus):
    from polarlab.features.embedding import Embedder
    from polarlab.linking.contrastive import ContrastiveTrainer
    from polarlab.linking.encoder import MemoEncoder

    onto = load_ontology(corpus / "onto")
    trainer = ContrastiveTrainer(name_pairs=6, batch_size=6, epochs=8, lr=1e-4)
    pairs = trainer.make_name_pairs(onto)
    enc = MemoEncoder(Embedder(), 32, pooling="mention")

    def margin() -> float:
        a = enc.encode([t.anchor for t in pairs])
        p = enc.encode([t.positive for t in pairs])
        S = a @ p.T
        return float(np.mean(np.diag(S)) - np.mean(S[~np.eye(len(pairs), dtype=bool)]))

    before = margin()
    trainer.fit(enc, pairs)
    assert trainer.n_steps_ == 8 and all(np.isfinite(trainer.losses_))
    assert margin() > before                  # synonyms closer, other terms' names farther


def test_contrastive_trainer_follows_the_train_config():
    from polarlab.linking.config import LinkingConfig
    from polarlab.linking.pipeline import contrastive_trainer

    cfg = LinkingConfig(corpus=["x.txt"], window=33, seed=4,
                        train={"max_examples": 7, "per_entity": 3, "name_pairs": 5, "lr": 1e-4, "synonym_swap": 0.0})
    t = contrastive_trainer(cfg)
    assert (t.max_examples, t.per_entity, t.name_pairs, t.lr, t.window, t.seed, t.synonym_swap) == \
        (7, 3, 5, 1e-4, 33, 4, 0.0)
    assert t.hard_negatives is cfg.train.hard_negatives


@pytest.mark.slow
def test_self_training_with_a_real_cross_fitted_encoder_fit(corpus):
    """Low-risk first-pass links (of the mentions and of those detected in the unlabelled text) become
    prototypes; with self_train_epochs the encoder is fine-tuned on them per document fold (real MiniLM
    fits), and every mention still gets one valid link and risk."""
    from polarlab.linking.config import LinkingProject
    from polarlab.linking.run import run_linking

    proj = LinkingProject.model_validate({
        "ontology": {"paths": ["onto"]},
        "linking": {"corpus": ["corpus/test_corpus.txt"], "unlabelled": ["corpus/train_corpus.txt"],
                    "self_train_risk": 1.0, "self_train_epochs": 1, "self_train_text": "spans",
                    "train": {"max_examples": 12, "batch_size": 4, "name_pairs": 0}}})
    res = run_linking(proj, base_dir=corpus, output_dir=corpus / "st_out")
    run = res.run
    assert run.first_pass is not None and run.pseudo_dev["self_train_prototypes"] >= 1
    assert "kriss_first_pass" in run.rankings
    text = run.pseudo_dev["self_train_text"]            # mentions detected in the unlabelled text, linked there
    assert text["documents"] == 12 and text["mentions"] >= text["low_risk"] >= text["prototypes"] >= 1
    n = len(run.mentions)
    assert run.harmonized.ranking.top1.shape == (n,) and np.all(np.isfinite(run.harmonized.risk))
    assert run.rankings["kriss"].top1.shape == (n,)
    assert len(res.frame) == n


def test_link_command_prints_the_mention_counts(corpus):
    """`polarlab link` prints its table with how many mentions were linked and how many map into the ontology
    (the counts were lost on the way to the table and printed as '?')."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    (corpus / "p.toml").write_text(
        '[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\ncorpus = ["corpus/test_corpus.txt"]\n'
        'linkers = ["exact", "sparse"]\nself_train_risk = 0\n[output]\ndir = "out"\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["link", str(corpus / "p.toml")], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "(7 mentions, 6 mappable)" in res.output               # one gold id of the 7 maps to no term


def test_polarlab_run_of_a_linking_project_prints_the_accuracy_table_when_there_is_gold(corpus):
    """`polarlab run` on a linking project prints the same accuracy table as `polarlab link` / `polarlab bench
    linking` (its numbers those of metrics.json) when the mentions have gold ids, and none when they have none."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    head = '[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\ncorpus = ["corpus/test_corpus.txt"]\n'
    tail = 'linkers = ["exact", "sparse"]\nself_train_risk = 0\n[output]\ndir = "{}"\n'
    (corpus / "gold.toml").write_text(head + tail.format("out_gold"), encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(corpus / "gold.toml")], terminal_width=200)
    assert res.exit_code == 0, res.output
    metrics = json.loads((corpus / "out_gold" / "metrics.json").read_text())
    assert "entity linking (7 mentions, 6 mappable)" in res.output
    rows = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[2:6]]
            for ln in res.output.splitlines() if ln.count("│") >= 6}
    for name, m in {**metrics["linkers"], "harmonized (POLAR)": metrics["harmonized"]}.items():
        assert rows[name] == [f"{100 * m[k]:.1f}" for k in ("acc1_mappable", "acc5_mappable", "acc1_all", "acc5_all")]
    assert set(rows) == {"exact", "sparse", "harmonized (POLAR)"}
    assert res.output.index("harmonized (POLAR)") < res.output.index("wrote metrics")
    # no gold: mentions found by matching the ontology's names carry none; no table, the files only
    (corpus / "nogold.toml").write_text(head + 'mentions = "match"\n' + tail.format("out_none"), encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(corpus / "nogold.toml")], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "harmonized" not in json.loads((corpus / "out_none" / "metrics.json").read_text())
    assert "entity linking" not in res.output and "acc@1" not in res.output and "wrote labels" in res.output


def test_a_negative_linking_seed_is_refused_when_read():
    """numpy refuses a negative seed only at the POLAR fit, minutes into a run: the project file refuses it first."""
    good = {"task": {"kind": "linking"}, "ontology": {"paths": ["o"]}, "linking": {"corpus": ["c.txt"], "seed": -1}}
    with pytest.raises(ConfigError, match="seed"):
        linking_project_from_dict(good)



def test_a_project_that_finds_its_mentions_by_matching_scans_each_text_once(corpus, monkeypatch):
    """mentions = "match": the documents to link are scanned for ontology names once, by one matcher that finds the
    mentions, the self-supervised mentions (they are also the unlabelled text here) and the terms each document names
    (they were scanned a second time by the linking job's own matcher); the mentions are a plain matcher's."""
    from polarlab.data.pubtator import read_pubtator
    from polarlab.linking.config import load_linking_project
    from polarlab.linking.run import run_linking
    from polarlab.ontology import NameMatcher

    (corpus / "m.toml").write_text(
        '[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\ncorpus = ["corpus/train_corpus.txt"]\n'
        'mentions = "match"\nlinkers = ["exact", "sparse"]\nself_train_risk = 0\n[output]\ndir = "out"\n',
        encoding="utf-8")
    docs = read_pubtator(corpus / "corpus" / "train_corpus.txt")
    want = MentionSet.from_matches(docs, NameMatcher(load_ontology(corpus / "onto")))
    scanned: list[tuple[int, str]] = []              # (the matcher's ontology, text); the pseudo-dev's has its own
    init, find = NameMatcher.__init__, NameMatcher.find

    def remember(self, ontology, *args, **kwargs):
        init(self, ontology, *args, **kwargs)
        self.ontology_kept = ontology                  # alive: no other ontology gets its id

    monkeypatch.setattr(NameMatcher, "__init__", remember)
    monkeypatch.setattr(NameMatcher, "find", lambda self, text: scanned.append((id(self.ontology_kept), text))
                        or find(self, text))
    res = run_linking(load_linking_project(corpus / "m.toml"), base_dir=corpus)
    assert len(scanned) == len(set(scanned))
    assert {d.text for d in docs} <= {text for _, text in scanned}
    assert res.run.mentions.texts == want.texts and res.run.mentions.starts.tolist() == want.starts.tolist()


def test_a_match_project_links_plain_text_and_jsonl_and_a_spans_project_says_how(corpus):
    """mentions = "match" needs no spans, so the corpus may be plain text (one document per line) or BEIR JSONL, as
    the unlabelled files may (it was PubTator only: 'row line 1: expected PMID|t|title'); with "spans" a file
    that is not PubTator is refused naming the key that reads plain text."""
    import json

    from polarlab.data.pubtator import read_pubtator
    from polarlab.errors import DataError
    from polarlab.linking.config import load_linking_project
    from polarlab.linking.run import run_linking
    from polarlab.ontology import NameMatcher

    docs = read_pubtator(corpus / "corpus" / "train_corpus.txt")
    want = MentionSet.from_matches(docs, NameMatcher(load_ontology(corpus / "onto")))
    (corpus / "plain.txt").write_text("".join(d.text + "\n" for d in docs), encoding="utf-8")
    (corpus / "docs.jsonl").write_text("".join(json.dumps({"_id": d.id, "text": d.text}) + "\n" for d in docs),
                                       encoding="utf-8")
    for name in ("plain.txt", "docs.jsonl"):
        (corpus / "p.toml").write_text(
            f'[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\ncorpus = ["{name}"]\n'
            'mentions = "match"\nlinkers = ["exact", "sparse"]\nself_train_risk = 0\n[output]\ndir = "out_p"\n',
            encoding="utf-8")
        res = run_linking(load_linking_project(corpus / "p.toml"), base_dir=corpus)
        assert res.run.mentions.texts == want.texts and res.run.mentions.starts.tolist() == want.starts.tolist()
        assert len(res.frame) == len(want.texts)
    (corpus / "p.toml").write_text(
        '[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\ncorpus = ["plain.txt"]\n', encoding="utf-8")
    with pytest.raises(DataError) as e:
        run_linking(load_linking_project(corpus / "p.toml"), base_dir=corpus)
    assert str(e.value).startswith(f"file {corpus / 'plain.txt'}, line 1: not a PubTator file")
    assert 'mentions = "match"' in e.value.fix
    for mentions in ("spans", "match"):       # a missing corpus file is the corpus's, not 'unlabelled text'
        (corpus / "p.toml").write_text('[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\n'
                                       f'corpus = ["nope.txt"]\nmentions = "{mentions}"\n', encoding="utf-8")
        with pytest.raises(DataError, match="corpus file not found"):
            run_linking(load_linking_project(corpus / "p.toml"), base_dir=corpus)


def test_an_uncalibrated_link_risk_is_said(caplog):
    """Without a pseudo-dev set big enough to calibrate it, the links' risk is POLAR's own 1 - p (about 1e-6 on a
    12-term toy ontology): the run says so, with the reason, instead of printing it as a chance of error."""
    import logging

    from polarlab.linking.pipeline import warn_uncalibrated

    with caplog.at_level(logging.WARNING, logger="polarlab.linking.pipeline"):
        assert not warn_uncalibrated({"n": 400, "calibrated": True})
        assert not caplog.records
        assert warn_uncalibrated({"n": 12, "calibrated": False,
                                  "why": "fewer than 30 pseudo-dev mentions with their term among the candidates"})
        assert warn_uncalibrated({})
        assert warn_uncalibrated({"n": 40, "calibrated": False})
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 3 and all("not calibrated" in m and "[linking] unlabelled" in m for m in msgs)
    assert "fewer than 30" in msgs[0] and "no pseudo-dev set" in msgs[1] and "all right or all wrong" in msgs[2]


def test_bench_linking_out_writes_what_a_project_run_writes(corpus, tmp_path):
    """`polarlab bench linking --out DIR` writes links.csv, review.csv, metrics.json and candidates.jsonl through the
    project run's writer: the project's columns, and the links of a project run on the same corpus with the same
    settings."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    out = tmp_path / "bench_out"
    res = CliRunner().invoke(app, ["bench", "linking", "--corpus", str(corpus / "corpus"), "--ontology",
                                   str(corpus / "onto"), "--no-ablations", "--state-dir", str(tmp_path / "st"),
                                   "--out", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    last = json.loads(lines[-1])
    assert [ln for ln in lines if ln.startswith("wrote ")] == [
        f"wrote {n}: {out / f}" for n, f in (("labels", "links.csv"), ("review", "review.csv"),
                                             ("metrics", "metrics.json"), ("candidates", "candidates.jsonl"))]
    assert lines[-2].startswith("wrote candidates")              # before the JSON line, which stays the last
    bench = pd.read_csv(out / "links.csv", dtype=str, keep_default_na=False)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["harmonized"] == last["harmonized"] and metrics["linkers"] == last["linkers"]
    assert metrics["n_mentions"] == len(bench) == 7 and metrics["phases"] and metrics["mention_types"]
    review = pd.read_csv(out / "review.csv")
    assert len(review) == 7 and review["risk"].is_monotonic_decreasing      # [linking] review = 50 > 7 links
    # a project run on the same corpus (test file linked, train file unlabelled), default settings
    (corpus / "same.toml").write_text(
        '[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\ncorpus = ["corpus/test_corpus.txt"]\n'
        'unlabelled = ["corpus/train_corpus.txt"]\n[output]\ndir = "out_same"\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(corpus / "same.toml")])
    assert res.exit_code == 0, res.output
    project = pd.read_csv(corpus / "out_same" / "links.csv", dtype=str, keep_default_na=False)
    assert list(bench.columns) == list(project.columns)
    key = ["document_id", "start", "end", "mention", "linked_id", "name", "xrefs"]
    assert bench[key].equals(project[key])
    np.testing.assert_allclose(bench["probability"].astype(float), project["probability"].astype(float), atol=1e-6)
    np.testing.assert_allclose(bench["risk"].astype(float), project["risk"].astype(float), atol=1e-6)
    assert metrics["harmonized"]["acc1_all"] == json.loads(
        (corpus / "out_same" / "metrics.json").read_text())["harmonized"]["acc1_all"]
    # the candidates (what `polarlab review` offers): the same in both, the first is each mention's link
    def candidates(d):
        return [[c["id"] for c in json.loads(ln)["candidates"]] for ln in (d / "candidates.jsonl").read_text().splitlines()]
    assert candidates(out) == candidates(corpus / "out_same")
    assert [c[0] if c else "" for c in candidates(out)] == bench["linked_id"].tolist()


def test_linking_combine_mv_follows_the_linkers_majority_and_h_alone_need_not():
    """``[linking.harmonizer] combine = "mv"``: where two of three linkers rank the same slot first, the link is
    that slot, whatever h(x) over uninformative features says; ``"h"`` (the default) reads h(x) alone."""
    from polarlab.linking.config import LinkingConfig
    from polarlab.linking.harmonize import CandidateSlots, harmonize
    from polarlab.linking.pipeline import polar_harmonizer

    rng = np.random.default_rng(0)
    n, K = 300, 3
    entities = np.arange(n * K).reshape(n, K)
    majority = rng.integers(K, size=n)
    odd = (majority + 1 + rng.integers(K - 1, size=n)) % K                 # the third linker's other slot
    L = np.stack([majority, majority, odd], axis=1)
    swap = rng.random(n) < 0.3                                              # which two linkers agree varies
    L[swap] = L[swap][:, [0, 2, 1]]
    X = rng.normal(size=(n, 4)).astype(np.float32)                         # features that carry nothing
    slots = CandidateSlots(entities, L, X, ["a", "b", "c"])
    cfg = LinkingConfig(corpus=["c"], n_slots=K, harmonizer={"combine": "mv", "n_seeds": 1})
    links = harmonize(slots, polar_harmonizer(cfg, 0)).ranking.entities[:, 0]
    assert (links == entities[np.arange(n), majority]).all()
    h_links = harmonize(slots, polar_harmonizer(LinkingConfig(corpus=["c"], n_slots=K, harmonizer={"n_seeds": 1}), 0))
    assert (h_links.ranking.entities[:, 0] != entities[np.arange(n), majority]).any()
    bad = {"task": {"kind": "linking"}, "ontology": {"paths": ["o"]},
           "linking": {"corpus": ["c.txt"], "harmonizer": {"combine": "ds:1"}}}
    with pytest.raises(ConfigError, match=r"linking\.harmonizer\.combine.*'onecoin:1'"):
        linking_project_from_dict(bad)


def test_second_pass_risk_first_pass_keeps_the_links_and_the_pass2_risk_as_a_variant(corpus):
    """A real self-trained run with [linking.calibration] second_pass_risk = "first_pass": the final links are the
    second pass's (kept with its own risk as the variant harmonized_pass2_risk), and where a link is the first
    pass's, its probability is the first pass's."""
    from polarlab.linking.config import LinkingProject
    from polarlab.linking.run import run_linking

    proj = LinkingProject.model_validate({
        "ontology": {"paths": ["onto"]},
        "linking": {"corpus": ["corpus/test_corpus.txt"], "unlabelled": ["corpus/train_corpus.txt"],
                    "self_train_risk": 1.0, "calibration": {"second_pass_risk": "first_pass"},
                    "train": {"max_examples": 12, "batch_size": 4, "name_pairs": 0}}})
    run = run_linking(proj, base_dir=corpus, output_dir=corpus / "sp_out").run
    assert run.first_pass is not None
    own = run.variants["harmonized_pass2_risk"]
    h, first = run.harmonized, run.first_pass
    assert np.array_equal(h.ranking.entities, own.ranking.entities) and np.array_equal(h.proba, own.proba)
    same = h.ranking.top1 == first.ranking.top1
    assert same.any() and np.allclose(h.probability[same], first.probability[same])
    assert np.allclose(h.risk, 1 - h.probability) and np.all((h.risk >= 0) & (h.risk <= 1))

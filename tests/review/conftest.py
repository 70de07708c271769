"""Shared fixtures of the review tests: a small real project (CSV + keyword rules + TF-IDF harmonizer)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab.review.store import Item, ReviewStore

SCRIPT_TEXT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> free money, click now'

SPAM = ["check out my channel {}", "subscribe to me please {}", "free gift cards at www.win{}.com",
        "click here to win {} dollars", "visit my page for free stuff {}"]
HAM = ["I love this song {}", "this video is great, watched it {} times", "the singer has a wonderful voice {}",
       "best song of the year {}", "memories from {} years ago"]


def make_review_project(tmp: Path, n: int = 120) -> Path:
    """A project file over a CSV of n comments (one of them with HTML in it) and five keyword rules."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        spam = i % 2 == 0
        text = (SPAM if spam else HAM)[rng.integers(5)].format(i)
        rows.append((f"c{i}", text, "spam" if spam else "ham"))
    rows[1] = ("c1", SCRIPT_TEXT, "spam")
    pd.DataFrame(rows, columns=["cid", "text", "label"]).to_csv(tmp / "data.csv", index=False)
    (tmp / "polarlab.toml").write_text('''
[task]
name = "spamtest"
labels = ["ham", "spam"]
[data]
path = "data.csv"
id_column = "cid"
[[sources]]
type = "keyword"
name = "kw_channel"
keywords = ["channel", "subscribe", "page"]
label = "spam"
[[sources]]
type = "regex"
name = "rx_link"
pattern = "www\\\\.|click"
label = "spam"
[[sources]]
type = "keyword"
name = "kw_free"
keywords = ["free", "win"]
label = "spam"
[[sources]]
type = "keyword"
name = "kw_song"
keywords = ["song", "voice", "video"]
label = "ham"
[[sources]]
type = "keyword"
name = "kw_love"
keywords = ["love", "great", "memories"]
label = "ham"
[labelmodel]
methods = ["mv", "polar"]
final = "polar"
[harmonizer]
features = "tfidf"
''', encoding="utf-8")
    return tmp / "polarlab.toml"


@pytest.fixture
def review_project(tmp_path: Path) -> Path:
    return make_review_project(tmp_path)


def synthetic_store(path: Path, n: int, labels=("ham", "spam"), reviews_per_item: int = 1,
                    audit_share: float = 0.0) -> ReviewStore:
    """A store of n synthetic items (for load and concurrency tests that do not need the pipeline)."""
    store = ReviewStore(path)
    store.set_meta(labels=list(labels), reviews_per_item=reviews_per_item, audit_share=audit_share,
                   threshold=0.1, target=0.9, budget=n)
    rng = np.random.default_rng(0)
    risk = rng.uniform(0, 0.5, n)
    store.put_items([Item(i, f"x{i}", "audit" if (audit_share and i % 10 == 0) else "risk", float(risk[i]),
                          int(i % 2), float(risk[i]), {"text": f"item {i}", "rules": []}) for i in range(n)])
    return store


# ---------------------------------------------------------------- a tiny linking project (as tests/test_linking.py's)
LINK_OBO = """format-version: 1.2
""" + "".join(f"""
[Term]
id: DOID:{i}
name: {name}
synonym: "{syn}" EXACT []
xref: MESH:{mesh}
""" for i, (name, syn, mesh) in enumerate([
    ("Wilson disease", "hepatolenticular degeneration", "D006527"), ("breast cancer", "breast carcinoma", "D001943"),
    ("cystic fibrosis", "mucoviscidosis", "D003550"), ("colorectal cancer", "colon cancer", "D015179"),
    ("ataxia telangiectasia", "Louis-Bar syndrome", "D001260"),
    ("Duchenne muscular dystrophy", "pseudohypertrophic muscular dystrophy", "D020388")], start=1))

LINK_DOCS = [
    ("900", "Liver copper in Wilson's disease.", "Copper overload in hepatolenticular degenerations.",
     ["Wilson's disease", "hepatolenticular degenerations"]),
    ("901", "Breast carcinomas in BRCA1 carriers.", "Tumours of the colon (colon cancers) and neoplasms.",
     ["Breast carcinomas", "colon cancers", "neoplasms"]),
    ("902", "Chloride transport in CF lungs.", "Mucoviscidosis and Louis Bar syndrome in children.",
     ["Mucoviscidosis", "Louis Bar syndrome"]),
]


def make_link_project(tmp: Path, docs=LINK_DOCS) -> Path:
    """A ``[task] kind = "linking"`` project: a 6-term ontology, PubTator mentions (no gold ids), the exact and
    sparse linkers and POLAR (seconds on a CPU)."""
    (tmp / "onto").mkdir()
    (tmp / "onto" / "tiny.obo").write_text(LINK_OBO, encoding="utf-8")
    blocks = []
    for pmid, title, abstract, mentions in docs:
        text = f"{title} {abstract}"
        lines = [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
        for m in mentions:
            s = text.index(m)
            lines.append(f"{pmid}\t{s}\t{s + len(m)}\t{m}\tDisease")
        blocks.append("\n".join(lines))
    (tmp / "corpus.txt").write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    (tmp / "link.toml").write_text('[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\n'
                                   'corpus = ["corpus.txt"]\nlinkers = ["exact", "sparse"]\nself_train_risk = 0\n'
                                   '[output]\ndir = "out"\n', encoding="utf-8")
    return tmp / "link.toml"


@pytest.fixture
def link_project(tmp_path: Path) -> Path:
    return make_link_project(tmp_path)

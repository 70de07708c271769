"""The Dataset: examples to label, held column-wise in a pandas DataFrame."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import DataError

#: Columns every dataset frame has. ``label`` is the gold label index, -1 where unknown.
CORE_COLUMNS = ("id", "text", "label")
#: Extra columns relation datasets have. Spans are (start, end) character offsets or None.
RELATION_COLUMNS = ("entity1", "entity2", "span1", "span2")


@dataclass
class Example:
    """One example, as handed to Python labeling functions and LLM prompts.

    Metadata columns are readable as attributes (``x.author``); preprocessors may set
    new attributes on it. It has no gold label: sources never see gold (``x.label`` raises
    AttributeError), which is only used for reporting.
    """

    id: str
    text: str
    entity1: str | None = None
    entity2: str | None = None
    span1: tuple[int, int] | None = None
    span2: tuple[int, int] | None = None
    meta: dict = field(default_factory=dict)

    def __getattr__(self, name: str):  # lets LFs read metadata as x.author etc.
        meta = object.__getattribute__(self, "meta")
        if name in meta:
            return meta[name]
        if name in ("label", "gold"):
            raise AttributeError(f"{name!r}: sources never see gold labels (they are only used for "
                                 "reporting); vote from the text and metadata")
        raise AttributeError(name)


@dataclass
class Dataset:
    """A set of examples.

    Attributes:
        frame: DataFrame with columns ``id`` (str, unique), ``text`` (str), ``label``
            (int, -1 = no gold), optionally ``entity1``, ``entity2``, ``span1``, ``span2``,
            and any metadata columns.
        name: a short name (file stem or split name).
        weak_labels: optional precomputed votes, shape (n, m), int, -1 = abstain
            (e.g. WRENCH's ``weak_labels``).
        weak_label_names: names of the m precomputed vote columns.
        source: where the data came from (path), for error messages.
        features: optional numeric feature vectors, shape (n, d), float (tabular data such as WRENCH's
            census, whose examples have no text: ``text`` is then empty and the harmonizer uses these).
    """

    frame: pd.DataFrame
    name: str = "data"
    weak_labels: np.ndarray | None = None
    weak_label_names: list[str] | None = None
    source: str | None = None
    gold_hidden: bool = False
    features: np.ndarray | None = None
    _arrow: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _view: "Dataset | None" = field(default=None, init=False, repr=False, compare=False)
    _view_of: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        required = [c for c in CORE_COLUMNS if not (self.gold_hidden and c == "label")]
        missing = [c for c in required if c not in self.frame.columns]
        if missing:
            raise DataError(f"dataset frame lacks column(s) {missing}", file=self.source,
                            fix="load data through polarlab.data loaders, which add them")
        self.frame = self.frame.reset_index(drop=True)
        if self.weak_labels is not None:
            wl = np.asarray(self.weak_labels, dtype=np.int64)
            if wl.ndim != 2 or wl.shape[0] != len(self.frame):
                raise DataError(f"weak_labels has shape {wl.shape}, expected ({len(self.frame)}, m)",
                                file=self.source, column="weak_labels",
                                fix="give one row of votes per example")
            self.weak_labels = wl
            if self.weak_label_names is None:
                self.weak_label_names = [f"weak_{j}" for j in range(wl.shape[1])]
        if self.features is not None:
            X = np.asarray(self.features, dtype=np.float64)
            if X.ndim != 2 or X.shape[0] != len(self.frame):
                raise DataError(f"features has shape {X.shape}, expected ({len(self.frame)}, d)",
                                file=self.source, column="features", fix="give one feature vector per example")
            self.features = X

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def ids(self) -> list[str]:
        return self.frame["id"].tolist()

    @property
    def texts(self) -> list[str]:
        return self.frame["text"].tolist()

    def arrow(self, column: str = "text"):
        """The column as a pyarrow array (built once, reused by every vectorised source)."""
        import pyarrow as pa

        if column not in self._arrow:
            if column not in self.frame.columns:
                from ..errors import DataError
                raise DataError(f"no column {column!r}; the columns are {list(self.frame.columns)}",
                                file=self.source, column=column, fix="name an existing column")
            col = self.frame[column]
            if isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow" and not col.hasnans:
                arr = pa.array(col)  # already Arrow strings: no round trip through n Python str objects
                self._arrow[column] = arr if arr.type == pa.large_string() else arr.cast(pa.large_string())
            else:
                self._arrow[column] = pa.array(col.astype(str).tolist(), type=pa.large_string())
        return self._arrow[column]

    @property
    def gold(self) -> np.ndarray:
        """Gold labels, shape (n,), int, -1 where unknown (all -1 in a :meth:`without_gold` view)."""
        if "label" not in self.frame.columns:
            return np.full(len(self.frame), -1, dtype=np.int64)
        return self.frame["label"].to_numpy(dtype=np.int64)

    def without_gold(self) -> "Dataset":
        """The same examples without the gold column: what sources are given.

        Columns, weak labels and the Arrow column cache are shared (nothing is copied but the frame's
        column list).
        """
        if self.gold_hidden:
            return self
        cols = [c for c in self.frame.columns if c != "label"]
        if (self._view is not None and self._view_of == (id(self.frame), len(self.frame))
                and list(self._view.frame.columns) == cols):
            return self._view
        view = Dataset(frame=self.frame.drop(columns=["label"]), name=self.name, weak_labels=self.weak_labels,
                       weak_label_names=self.weak_label_names, source=self.source, gold_hidden=True,
                       features=self.features)
        view._arrow.update({k: v for k, v in self._arrow.items() if k != "label"})
        self._view, self._view_of = view, (id(self.frame), len(self.frame))
        return view

    @property
    def has_gold(self) -> bool:
        return bool((self.gold >= 0).any())

    @property
    def is_tabular(self) -> bool:
        """True when the examples are numeric feature vectors (no text)."""
        return self.features is not None

    @property
    def is_relation(self) -> bool:
        return "entity1" in self.frame.columns and "entity2" in self.frame.columns

    @property
    def meta_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c not in CORE_COLUMNS + RELATION_COLUMNS]

    def example(self, i: int) -> Example:
        row = self.frame.iloc[i]
        return self._to_example(row.to_dict())

    def __iter__(self) -> Iterator[Example]:
        for rec in self.frame.to_dict("records"):
            yield self._to_example(rec)

    def _to_example(self, rec: dict) -> Example:
        meta = {k: rec[k] for k in rec if k not in CORE_COLUMNS + RELATION_COLUMNS}
        def span(v):
            return None if v is None or (isinstance(v, float) and np.isnan(v)) else tuple(int(a) for a in v)
        return Example(
            id=str(rec["id"]), text=rec["text"],
            entity1=rec.get("entity1"), entity2=rec.get("entity2"),
            span1=span(rec.get("span1")), span2=span(rec.get("span2")), meta=meta,
        )

    def subset(self, index: np.ndarray | list[int], name: str | None = None) -> "Dataset":
        """Rows ``index`` (positions) as a new Dataset, weak labels included."""
        index = np.asarray(index, dtype=np.int64)
        return Dataset(
            frame=self.frame.iloc[index].reset_index(drop=True),
            name=name or self.name,
            weak_labels=None if self.weak_labels is None else self.weak_labels[index],
            weak_label_names=self.weak_label_names,
            source=self.source,
            gold_hidden=self.gold_hidden,
            features=None if self.features is None else self.features[index],
        )

    def head(self, n: int) -> "Dataset":
        return self.subset(np.arange(min(n, len(self))))

"""Linkers: each ranks ontology entities for a mention and scores given candidates."""
from .base import Linker, Ranking, RowTable, names_table, top_entities
from .dense import NamesDenseLinker, PrototypeIndex
from .exact import ExactLinker
from .kriss import KrissLinker
from .llm import LLMLinker
from .sparse import SparseLinker

__all__ = ["Linker", "Ranking", "RowTable", "names_table", "top_entities", "ExactLinker", "SparseLinker",
           "NamesDenseLinker", "KrissLinker", "LLMLinker", "PrototypeIndex"]

"""Ontologies: OBO / TSV files merged by id, with names, synonyms, xrefs and name matching in text.

Stable API::

    onto = load_ontology(["HumanDO.tsv", "DO_rare_slim.obo"])    # or a folder
    onto.terms["DOID:9352"].name; onto.names(id); onto.synonyms; onto.xrefs
    onto.name_index()      # normalised name -> [ids]
    NameMatcher(onto).find(text)   # longest, word-bounded name matches (Aho–Corasick)
"""
from .load import READERS, load_ontology, ontology_files
from .matcher import NameMatch, NameMatcher
from .obo import read_obo
from .terms import Ontology, Term, canonical_xref, normalize_name
from .tsv import read_tsv

__all__ = ["load_ontology", "ontology_files", "READERS", "read_obo", "read_tsv", "Ontology", "Term",
           "normalize_name", "canonical_xref", "NameMatcher", "NameMatch"]

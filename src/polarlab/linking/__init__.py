"""Ontology entity linking by knowledge-rich self-supervision (KRISS), with a POLAR risk per link.

See :func:`polarlab.linking.run.run_linking` (a project's ``[task] kind = "linking"``) and
:func:`polarlab.linking.bench.bench_linking` (``polarlab bench linking``).
"""
from .config import LinkingConfig, LinkingProject, OntologyConfig, TrainConfig, load_linking_project
from .evaluate import GoldMap, link_accuracy, map_gold
from .harmonize import CandidateSlots, HarmonizedLinks, build_slots, harmonize
from .mentions import MentionSet, in_context
from .pipeline import LinkRun, run_link
from .selfsup import SelfSupMention, self_supervised_mentions

__all__ = ["LinkingConfig", "LinkingProject", "OntologyConfig", "TrainConfig", "load_linking_project",
           "GoldMap", "map_gold", "link_accuracy", "CandidateSlots", "HarmonizedLinks", "build_slots", "harmonize",
           "MentionSet", "in_context", "LinkRun", "run_link", "SelfSupMention", "self_supervised_mentions"]

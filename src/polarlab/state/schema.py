"""The state database's tables, its schema version, and the migrations between versions.

Version history:
    1: examples, source_votes, vote_events, distributions, features, risk, stages, stage_log, runs, meta.

To change the schema: bump ``SCHEMA_VERSION``, add ``MIGRATIONS[old] = [sql, ...]`` that turns an ``old``
database into ``old + 1``, and describe it above. A database newer than this code is refused.
"""
from __future__ import annotations

SCHEMA_VERSION = 1

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    split TEXT PRIMARY KEY, ref TEXT NOT NULL, n INTEGER NOT NULL, content_hash TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS source_votes (
    split TEXT NOT NULL, source TEXT NOT NULL, position INTEGER NOT NULL, key TEXT NOT NULL,
    votes_ref TEXT NOT NULL, proba_ref TEXT, n INTEGER NOT NULL, info TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (split, source));
CREATE TABLE IF NOT EXISTS vote_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, split TEXT NOT NULL, example_id TEXT NOT NULL, source TEXT NOT NULL,
    value INTEGER NOT NULL, previous INTEGER, kind TEXT NOT NULL, who TEXT, strategy TEXT, note TEXT,
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS vote_events_by_split ON vote_events (split, source);
CREATE TABLE IF NOT EXISTS distributions (
    method TEXT NOT NULL, split TEXT NOT NULL, ref TEXT NOT NULL, key TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (method, split));
CREATE TABLE IF NOT EXISTS features (
    key TEXT PRIMARY KEY, ref TEXT NOT NULL, rows INTEGER NOT NULL, dims INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS risk (
    source TEXT NOT NULL, split TEXT NOT NULL, ref TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (source, split));
CREATE TABLE IF NOT EXISTS stages (
    name TEXT PRIMARY KEY, config_hash TEXT NOT NULL, inputs TEXT NOT NULL, output_hash TEXT NOT NULL,
    seconds REAL NOT NULL, report TEXT NOT NULL, finished REAL NOT NULL);
CREATE TABLE IF NOT EXISTS stage_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER, name TEXT NOT NULL, action TEXT NOT NULL,
    seconds REAL NOT NULL, reason TEXT NOT NULL, time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, finished REAL, status TEXT NOT NULL,
    config_hash TEXT NOT NULL, project TEXT NOT NULL, report TEXT NOT NULL);
"""

#: ``MIGRATIONS[v]``: SQL statements that turn a version-``v`` database into version ``v + 1``.
MIGRATIONS: dict[int, list[str]] = {}

"""What ``polarlab status``, ``report`` and ``export`` read for task kinds with a job of their own (spans,
linking, relevance; :data:`polarlab.tasks.PROJECT_RUNNERS`).

Such a job does not run through the stage list, so it keeps no stage records; instead each run is one row of
the project state's ``runs`` table (:mod:`.record`): the config hash, the input files' hashes, the files written,
the counts labelled and the LLM usage per step. Each kind describes itself once, as a :class:`.kind.JobKind`
registered in :data:`polarlab.tasks.PROJECT_JOBS` (where its state and inputs are, its report sections, its export
formats); :mod:`.status`, :mod:`.report` and :mod:`.export` are the same for every kind.
"""

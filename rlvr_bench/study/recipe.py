"""Study recipes (schema and loader): defined in ``rlvr_bench.recipes.study``, re-exported here.

The schema lives in the recipes layer so that ``rlvr-bench recipes`` validates study files without a
circle (``recipes`` never imports ``rlvr_bench.study``).
"""

from __future__ import annotations

from rlvr_bench.recipes.study import ReportConfig, StudyConfig, load_study, resolve_recipe_path

__all__ = ["ReportConfig", "StudyConfig", "load_study", "resolve_recipe_path"]

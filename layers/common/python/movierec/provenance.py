"""Provenance: where a recommendation came from (``movierec explain``) and the code state of a run.

:func:`git_state` is recorded by training in the manifest (full commit and whether the working tree had
uncommitted changes, which a short commit hash alone hides). :func:`explain` joins one logged answer
with its index version's manifest, the training data snapshot it names, the experiment arm and the
history the user had at that moment.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import movierec
from movierec.config import Settings
from movierec.dal.tables import RecommendationItem, Tables
from movierec.dal.history import get_states
from movierec.dal.index_store import read_manifest


def git_state() -> dict[str, Any]:
    """``{"commit": <sha or None>, "dirty": <bool or None>}`` of the checkout this code runs from."""
    cwd = Path(movierec.__file__).parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, cwd=cwd)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip() if commit else None, "dirty": None if status is None else bool(status.strip())}


@dataclass(frozen=True)
class Explanation:
    user_id: int
    request_key: str
    at: float
    source: str
    status: int
    movie_ids: list[str]
    version: str | None
    experiment: str | None
    arm: str | None
    ranker: str | None
    training: dict[str, Any] | None
    index_build: dict[str, Any]
    history_size: int
    recent: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def find_answer(user_id: int, settings: Settings, request_key: str | None = None,
                at: float | None = None) -> RecommendationItem | None:  # fmt: skip
    """The logged answer ``request_key`` of ``user_id``, or the latest one at or before ``at``."""
    R = Tables(settings).recommendations
    if request_key is not None:
        try:
            return R.get(user_id, request_key)
        except R.DoesNotExist:
            return None
    cond = None if at is None else R.request_key <= f"{int(at * 1000):013d}~"
    return next(iter(R.query(user_id, cond, scan_index_forward=False, limit=1)), None)


def explain(item: RecommendationItem, settings: Settings, recent: int = 5) -> Explanation:
    version = item.version
    if version is None and item.source.startswith("stream:replay-"):
        version = item.source[len("stream:replay-"):]
    manifest = None
    if version:
        try:
            manifest = read_manifest(version, settings)
        except Exception:  # a version deleted since, or a course server's: say so by the None fields
            manifest = None
    states = get_states(Tables(settings), int(item.user_id))
    seen = sorted(((s.last_seen if s.last_seen <= item.at else s.first_seen, m) for m, s in states.items()
                   if s.first_seen < item.at), reverse=True)  # fmt: skip
    build = dict(manifest.build) if manifest else {}
    training = build.pop("training", None)
    return Explanation(
        int(item.user_id), item.request_key, float(item.at), item.source, int(item.status),
        [m for m in (item.movie_ids or "").split(",") if m], version, item.experiment, item.arm,
        manifest.ranker if manifest else None, training,
        {**build, "code_version": manifest.code_version, "created_at": manifest.created_at,
         "parent": manifest.parent} if manifest else {},
        len(seen), [m for _, m in seen[:recent]],
    )  # fmt: skip

"""``movierec train``: interactions -> model -> gate -> a new index version, promoted or kept.

1. Read the current index version (the pointer) and the interactions: DynamoDB (what the running
   system ingested) or MovieLens (ids mapped to course ids through ``ml_to_course_ids.csv``; movies
   without a course id are dropped, as the course index cannot serve them).
2. Tune (:mod:`~movierec.training.tuning`): on a validation split cut from the holdout's training part
   only, every family's grid within ``train_tune_budget_s`` — ranker v2's variants (what is published;
   on course-id data each without and with MovieLens as prior data, :mod:`~movierec.training.prior`)
   and the baselines (popular, Markov, EASE, ALS).
3. Gate: fit the chosen v2 candidate on the leave-last-out training part, score it, the current
   version's ranker and the best validation baseline on the fresh holdout (:mod:`~movierec.training.gate`).
4. Refit on ALL interactions with the chosen parameters (each user's latest movie is the most useful
   data) and write a NEW version = the current version's rows + the model columns, ranker ``collab-v2``,
   the manifest recording model type, parameters, data window and size, the tuning (choice, grid,
   validation scores), holdout metrics, gate outcome.
5. Upload it; move the pointer only if the gate passed (and ``promote``). A refused version stays on S3
   under its own prefix; the reason is logged and counted (metric ``GateRefused``).

A ``stop`` event cancels the job at a safe point (:class:`~movierec.models.cancel.Cancelled`) between
these steps, and between the tuner's grid points (the search is minutes; one point is seconds): before
the upload nothing is visible to anyone; the upload and the pointer move, the last step, run to their end
(seconds), so a stopped round never leaves a half-written version or a pointer to one.

The recommend function notices the pointer within ``index_refresh_s`` and swaps the version in the
background (:class:`~movierec.dal.index_store.IndexStore`), without a restart or a failed request.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from movierec.catalog.movielens import read_links
from movierec.config import Settings
from movierec.dal.index_store import IndexMissingError, download_version, published_versions, read_manifest, read_pointer
from movierec.dal.snapshots import PREFIX as SNAPSHOT_PREFIX, SnapshotMissingError, read_snapshot, snapshot_key, write_snapshot
from movierec.datasets import DataMissingError, data_path
from movierec.evaluation.interactions import TIE_SEED, InteractionLog, load_dynamodb, load_movielens, load_prior
# A trained version is written exactly like a built one (LanceDB table, then the manifest).
from movierec.index.build import code_version, write_index_version
from movierec.index.loaded import MovieIndex, load_index
from movierec.index.manifest import Manifest
from movierec.index.publish import set_pointer, upload_version
from movierec.index_job import retain_versions
from movierec.index.table import BASE_COLUMNS, movies_of, to_arrow
from movierec.models.cancel import checkpoint
from movierec.models.ranking import Interaction
from movierec.observability import MetricUnit, make_logger, make_metrics
from movierec.provenance import git_state
from movierec.ranking.collab import NAME, CollabRanker, FoldIn
from movierec.ranking.registry import build_ranker
from movierec.training.families import split_params
from movierec.training.gate import GateResult, fresh_holdout, learned_pairs, run_gate
from movierec.training.prior import PRIOR_SOURCE, usable_prior
from movierec.training.side import side_features
from movierec.training.tuning import Tuning, train_specs, tune
from movierec.training.model import (
    COLUMNS, CollabModel, FitParams, arrow_columns, describe, fit_collab, index_columns, ranker_for, translate,
)  # fmt: skip

SOURCES = ("dynamodb", "movielens")
logger = make_logger("train")


@dataclass(frozen=True)
class TrainOutcome:
    version: str
    base_version: str
    promoted: bool
    gate: GateResult
    manifest: Manifest
    seconds: float
    tuning: Tuning | None = None


def load_interactions(source: str, settings: Settings) -> InteractionLog:
    """The training log in the index's id space (course movie ids)."""
    if source == "dynamodb":
        return load_dynamodb(settings, include_catalog=False, tie_seed=TIE_SEED)
    if source == "movielens":
        links = {str(k): v for k, v in read_links(data_path("movielens", "ml_to_course_ids.csv", settings=settings)).items()}
        ml = load_movielens(settings, tie_seed=TIE_SEED)
        return InteractionLog(translate(ml.users, links), tuple(sorted(set(links.values()))), source="movielens")
    raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")


def training_prior(source: str, settings: Settings, log: InteractionLog) -> dict[int, tuple[Interaction, ...]] | None:
    """The prior data ranker v2 may train with on ``log`` (``settings.train_prior``); None on MovieLens
    itself (it is the data), when switched off, when it is not there (logged: training goes on without),
    or when ``log`` is the prior's own data set (:func:`~movierec.training.prior.usable_prior`, decided
    here once for the whole log, so the tuner does not try every v2 grid point twice for a prior every fit
    would refuse). ``movielens`` reads the data folder; a snapshot key reads what :func:`publish_prior`
    stored in the index bucket (how a deployed train function, which has no data folder, gets it), and a
    refit that names the same key learns from exactly the same prior. A snapshot S3 refuses, or one that
    holds no prior, fails the run: a role or a setting that is wrong must not quietly cost the prior."""
    if source == "movielens" or settings.train_prior == "none":
        return None
    try:
        if settings.train_prior == "movielens":
            prior = load_prior(settings)
        elif settings.train_prior.startswith(SNAPSHOT_PREFIX):
            stored = read_snapshot(settings.train_prior, settings)
            if stored.source != PRIOR_SOURCE:
                raise ValueError(f"MOVIEREC_TRAIN_PRIOR {settings.train_prior!r} holds {stored.source} interactions, "
                                 "not a prior (`movierec data publish-prior` stores one)")  # fmt: skip
            prior = dict(stored.users)
        else:
            raise ValueError(f"unknown MOVIEREC_TRAIN_PRIOR {settings.train_prior!r}; known: movielens, none, "
                             f"or a key {SNAPSHOT_PREFIX}<sha256>.json.gz from `movierec data publish-prior`")  # fmt: skip
    except (DataMissingError, SnapshotMissingError) as exc:
        logger.warning("no prior data: training without it", extra={"reason": str(exc)})
        return None
    usable = usable_prior(prior, log.users)
    if not usable:
        logger.info("prior data not used: the training data is MovieLens itself (its users and times)")
    return usable or None


def publish_prior(settings: Settings) -> str:
    """Store the MovieLens prior of the data folder in the index bucket as a snapshot (content-addressed:
    publishing the same files again gives the same key) and return the key that ``MOVIEREC_TRAIN_PRIOR``
    (the template's ``TrainPrior``) takes. The histories are stored already in stream ids, so the train
    function needs neither the files nor their id mapping."""
    return write_snapshot(InteractionLog(load_prior(settings), (), source=PRIOR_SOURCE), settings)


def _model_fingerprint(base: Manifest, model: CollabModel, fold: FoldIn) -> str:
    h = hashlib.sha256(f"{base.source_fingerprint}|{describe(model)}|{fold}".encode())
    for array in (model.cf_idx, model.cf_w, model.seq_idx, model.seq_w):
        h.update(array.tobytes())
    return h.hexdigest()[:16]


def write_version(base: MovieIndex, model: CollabModel, fold: FoldIn, training: dict[str, object],
                  folder: Path) -> Manifest:  # fmt: skip
    """A new version folder: ``base``'s rows, vectors and neighbours + the model columns, ranker v2."""
    cols = arrow_columns(index_columns(model, base.row_of, len(base)))
    kept = {n: base.table[n].combine_chunks() for n in base.table.column_names if n not in BASE_COLUMNS and n not in COLUMNS}
    table = to_arrow(movies_of(base.table), base.table["text_hash"].to_pylist(), base.vectors, base.nbr_idx,
                     base.nbr_sim, {**kept, **cols})  # fmt: skip
    build = {**base.manifest.build, "training": training}
    return write_index_version(folder, table, _model_fingerprint(base.manifest, model, fold), NAME,
                               base.manifest.neighbours_k, base.version, build)  # fmt: skip


def learned_by(previous: dict, source: str, log: InteractionLog, settings: Settings) -> frozenset[tuple[int, str]] | None:
    """The (user, movie) pairs the current version's model learned from (``previous``: its manifest's
    training record), read from its training snapshot; None when it learned nothing of ``source`` (content
    v1, or another source's data: all of ``log`` is new to it). Pairs, not a time cut: replayed course
    files and late deliveries carry old event times, and "newer than the model's last event" would call
    them nothing new. A version without a readable snapshot falls back to that time cut (logged)."""
    if previous.get("source") != source:
        return None
    key = previous.get("snapshot")
    if key:
        try:
            return learned_pairs(read_snapshot(key, settings))
        except ValueError as exc:
            logger.warning("current model's snapshot unreadable: judging new data by event time", extra={"reason": str(exc)})
    since = previous.get("data", {}).get("last_at")
    if since is None:
        return None
    return frozenset((user, i.movie_id) for user, history in log.users.items() for i in history if i.last_seen <= since)


def offered_prior(source: str, settings: Settings) -> str:
    """What the setting offers ``source`` as prior data (the training record's ``prior.offered``)."""
    return "none" if source == "movielens" else settings.train_prior


def refused_before(base_version: str, source: str, log: InteractionLog, given: dict | None,
                   settings: Settings) -> str | None:  # fmt: skip
    """The newest published version, when it is a candidate the gate refused on exactly this round: the
    same base version, the same data (its training snapshot's content address), the same code, the same
    prior setting and the same request (v2's parameters as given, or None when tuned: the record's
    ``given``); else None.

    Training again would fit the same candidate and meet the same verdict, and the retrain loop would do
    it every round until new data arrives: on the course files, four minutes of two cores a minute, and
    a kept version more each time (seen in a `make up`-like run, 2026-12-08). Anything that changes
    (one interaction, the code, the prior, the pointer) trains again."""
    newest = max(published_versions(settings), default=None)
    if newest is None or newest == base_version:
        return None
    manifest = read_manifest(newest, settings)
    record = manifest.build.get("training", {})
    if not isinstance(record, dict) or manifest.parent != base_version or record.get("holdout", {}).get("promote", True):
        return None
    same = (record.get("code_version") == code_version() and record.get("given") == given
            and record.get("prior", {}).get("offered") == offered_prior(source, settings)
            and record.get("snapshot") == snapshot_key(log))  # the one costly comparison last  # fmt: skip
    return newest if same else None


def training_catalog(index: MovieIndex, log: InteractionLog) -> tuple[str, ...]:
    """What the served ranker can answer with: the index's movies (and any the log names that it lacks),
    so validation coverage@20 — which the tuner's floor asks of v2 — means what it means offline."""
    return tuple(dict.fromkeys([*index.ids, *log.catalog]))


def train(settings: Settings, source: str = "dynamodb", promote: bool = True, fit: FitParams | None = None,
          fold: FoldIn | None = None, from_snapshot: str | None = None,
          interaction_filter: Callable[[InteractionLog], InteractionLog] | None = None,
          stop: threading.Event | None = None) -> TrainOutcome | None:  # fmt: skip
    """Train, gate and publish one version (see the module docstring); None when the current version's
    model already saw every interaction (a retrain would learn nothing new), or when the gate refused a
    candidate trained on exactly this last time (:func:`refused_before`). ``from_snapshot`` refits on
    a stored training snapshot (provenance: the same data as the run that wrote it) instead of ``source``.
    ``interaction_filter`` (a hook for the security audit's mitigation, :mod:`movierec.audit.mitigation`)
    transforms the interactions before anything is fitted or gated. ``fit`` / ``fold`` fix ranker v2's
    parameters instead of tuning them (the baselines are tuned all the same: the gate needs the best).
    ``stop`` cancels between steps (:class:`~movierec.models.cancel.Cancelled`, nothing published)."""
    started = time.perf_counter()
    base_version = read_pointer(settings)
    if base_version is None:
        raise IndexMissingError("no index published yet: run `movierec index build` first")
    base = load_index(download_version(base_version, settings))
    checkpoint(stop, "before reading the interactions")
    log = read_snapshot(from_snapshot, settings) if from_snapshot else load_interactions(source, settings)
    source = log.source if from_snapshot else source
    if interaction_filter is not None:
        log = interaction_filter(log)
    learned = None if from_snapshot else learned_by(base.manifest.build.get("training", {}), source, log, settings)
    if learned is not None and learned_pairs(log) <= learned:
        logger.info("no interaction the current model did not learn from: nothing to train", extra={"base": base_version})
        return None
    given = {**asdict(fit or FitParams()), **(fold or FoldIn()).to_dict()} if fit is not None or fold is not None else None
    refused = None if from_snapshot else refused_before(base_version, source, log, given, settings)
    if refused is not None:
        logger.info("the data is what the gate refused last round: nothing to train", extra={"base": base_version, "refused": refused})
        return None
    checkpoint(stop, "before fitting the candidate")
    holdout = fresh_holdout(log, learned)
    prior = training_prior(source, settings, log)
    side = side_features(base)
    specs = train_specs(base, prior, settings.min_coverage, side)
    if given is not None:  # v2's parameters are given: only they are "tried"
        specs[NAME] = replace(specs[NAME], grid=(given,), quick_grid=None, refine=None)
    catalog = training_catalog(base, log)
    tuning = tune(holdout.train, catalog, specs, settings.train_tune_budget_s, stop=stop)
    fit, fold = split_params(tuning.params)
    candidate = fit_collab(holdout.train, fit, prior, side)
    checkpoint(stop, "before the gate")
    baseline = specs[tuning.best_baseline].build(holdout.train, catalog, **tuning.baseline_params)
    gate = run_gate(ranker_for(base, candidate, fold), build_ranker(base), holdout,
                    baseline=(tuning.best_baseline, baseline))  # fmt: skip
    checkpoint(stop, "before the final fit")
    final = fit_collab(log.users, fit, prior, side)
    checkpoint(stop, "before writing the snapshot")
    training = {**describe(final), "fold_in": fold.to_dict(), "source": source, "code_version": code_version(),
                # offered: what the setting gave this source; users_used: 0 when the tuner said no, the files are
                # missing or the data is the prior's own
                "prior": {"offered": offered_prior(source, settings),
                          "users_used": final.info["prior_users"]},
                # what was asked: v2's parameters as given, or None when the tuner chose them
                "given": given, "tuning": tuning.to_dict(), "holdout": {"split": holdout.name, **asdict(gate)},
                # provenance: the exact data (content-addressed on S3) and the code state that made the model
                "snapshot": write_snapshot(log, settings), "git": git_state()}  # fmt: skip
    work = settings.index_cache_dir / f".train-{uuid.uuid4().hex[:8]}"
    try:
        checkpoint(stop, "before writing the version")
        manifest = write_version(base, final, fold, training, work)
        checkpoint(stop, "before the upload")
        upload_version(work, manifest.version, settings)
        promoted = gate.promote and promote
        if promoted:
            set_pointer(manifest.version, settings)
        retain_versions(settings)
        target = settings.index_cache_dir / manifest.version
        if not target.exists():
            work.rename(target)  # the local API then finds the version without downloading it
    finally:
        shutil.rmtree(work, ignore_errors=True)
    outcome = TrainOutcome(manifest.version, base_version, promoted, gate, manifest, time.perf_counter() - started, tuning)
    _report(outcome, promote)
    return outcome


def _report(outcome: TrainOutcome, promote: bool) -> None:
    """Log the decision and count it (``TrainRuns``, ``GatePromoted`` or ``GateRefused``, ``TrainSeconds``)."""
    metrics = make_metrics("train")
    metrics.add_metric(name="TrainRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="TrainSeconds", unit=MetricUnit.Seconds, value=round(outcome.seconds, 2))
    extra = {"version": outcome.version, "base": outcome.base_version, "reason": outcome.gate.reason,
             "candidate": dict(outcome.gate.candidate), "current": dict(outcome.gate.current),
             "baseline": {outcome.gate.baseline_name: dict(outcome.gate.baseline)}}  # fmt: skip
    if outcome.promoted:
        metrics.add_metric(name="GatePromoted", unit=MetricUnit.Count, value=1)
        logger.info("new version promoted", extra=extra)
    elif not outcome.gate.promote:
        metrics.add_metric(name="GateRefused", unit=MetricUnit.Count, value=1)
        logger.warning("new version kept but not promoted: the gate refused it", extra=extra)
    else:
        logger.info("new version kept but not promoted (--no-promote)", extra=extra)
    metrics.flush_metrics()

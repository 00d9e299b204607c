"""A real experiment through the closed replay loop: content v1 (control) vs collaborative ranker v2.

    MOVIEREC_MOTO_PORT=... MOVIEREC_KAFKA_PORT=... MOVIEREC_API_PORT=... MOVIEREC_RUN_DIR=... \\
        .venv/bin/python bench/experiment_demo.py [--users 60] [--asks 8] [--min-ratings 10] [--out docs]

On a private local stack (the ports in the environment; moto and tansu are started and stopped here):

1. ``demo`` users (``--users``, drawn with seed 0 from MovieLens) are kept out; the ratings of
   ``--train-users`` other MovieLens users (seed 1) go through Kafka and ingest (the history the models
   learn from; a sample, so that ingest finishes in minutes on a loaded machine);
2. content v1: an index of the course movies MovieLens maps to with at least ``--min-ratings`` ratings,
   plus every movie of the demo users (a subset of the 16,960-movie catalog, so the build takes a minute,
   not five); published and current;
3. ranker v2 trained on the ingested histories (``train(source="dynamodb", promote=False)``): published,
   not current;
4. ``experiment start --control <v1> --treatment <v2> --share 0.5``; the API (chalice local) serves both;
5. the replay loop (``infra/replay_loop.py``) replays the demo users in time order, asking the API before
   each new session; their later watches decide conversion;
6. the report over the loop's answers (source ``stream:replay``): markdown on stdout, PNG in ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.api_server import ApiServer  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.localenv import use_local_stack  # noqa: E402
from infra.poller import Poller  # noqa: E402
from infra.replay import produce  # noqa: E402
from infra.replay_loop import ReplayLoop, choose_users  # noqa: E402
from infra.stack import Stack  # noqa: E402
from movierec.catalog.course import read_course_catalog  # noqa: E402
from movierec.catalog.movielens import read_links  # noqa: E402
from movierec.config import get_settings  # noqa: E402
from movierec.dal.experiment_store import running_experiment, start_experiment, stop_experiment  # noqa: E402
from movierec.datasets import data_path  # noqa: E402
from movierec.evaluation.online import load_online  # noqa: E402
from movierec.experiments.analysis import analyse  # noqa: E402
from movierec.experiments.report import markdown, plot  # noqa: E402
from movierec.index.build import build_index  # noqa: E402
from movierec.index.embed import EmbeddingCache  # noqa: E402
from movierec.index.publish import publish  # noqa: E402
from movierec.logic.movielens_stream import format_line, movielens_events  # noqa: E402
from movierec.training.job import train  # noqa: E402

NAME = "content-vs-collab"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=60)
    p.add_argument("--train-users", type=int, default=150, help="other users ingested for training")
    p.add_argument("--asks", type=int, default=8, help="questions per demo user at most")
    p.add_argument("--min-ratings", type=int, default=10)
    p.add_argument("--out", type=Path, default=Path("docs"))
    args = p.parse_args()
    use_local_stack()
    settings = get_settings()
    stack = Stack(settings)
    started = stack.up()
    poller = api = None
    try:
        bootstrap(settings)
        demo = choose_users(args.users, 0, settings) or set()
        others = sorted(set(choose_users(args.users + args.train_users, 1, settings) or set()) - demo)
        trainers = set(others[: args.train_users])
        t0 = time.perf_counter()
        poller = Poller(settings)
        poller.start()
        lines = [format_line(e).encode() for e in movielens_events(settings=settings) if e.user_id in trainers]
        produce(settings, lines, progress=False)
        while poller.stats.records < len(lines):
            time.sleep(1)
        print(f"ingested {len(lines):,} lines of {len(trainers)} training users in {time.perf_counter() - t0:.0f} s", flush=True)

        links = read_links(data_path("movielens", "ml_to_course_ids.csv", settings=settings))
        counts: Counter[int] = Counter()
        demo_movies: set[int] = set()
        with open(data_path("movielens", "ml-latest-small", "ratings.csv", settings=settings), newline="") as f:
            for row in csv.DictReader(f):
                counts[int(row["movieId"])] += 1
                if int(row["userId"]) in demo:
                    demo_movies.add(int(row["movieId"]))
        wanted = {links[m] for m in links if counts[m] >= args.min_ratings or m in demo_movies}
        movies = [m for m in read_course_catalog(data_path("catalog", "movies.jsonl", settings=settings)).movies
                  if m.id in wanted]  # fmt: skip
        t0 = time.perf_counter()
        folder = settings.run_dir / "demo-index"
        built = build_index(movies, folder, cache=EmbeddingCache(settings.embedding_cache_dir), progress=False)
        publish(built.folder, built.manifest.version, settings)
        control = built.manifest.version
        print(f"content v1 {control}: {len(movies):,} movies in {time.perf_counter() - t0:.0f} s", flush=True)
        outcome = train(settings, source="dynamodb", promote=False)
        assert outcome is not None
        treatment = outcome.version
        print(f"ranker v2 {treatment}: gate {outcome.gate.reason}", flush=True)

        api = ApiServer(settings)
        api.start()
        experiment = start_experiment(settings, NAME, control, treatment, 0.5)
        time.sleep(settings.index_refresh_s + 2)  # the API picks the experiment up within its refresh period
        t0 = time.perf_counter()
        stats = ReplayLoop(settings, users=demo, max_asks_per_user=args.asks).run()
        print(f"replay loop in {time.perf_counter() - t0:.0f} s: {stats.summary()}", flush=True)
        requests, watches = load_online(settings)
        analysis = analyse(experiment, [r for r in requests if r.source.startswith("stream:replay")], watches,
                           looks=12)  # fmt: skip
        if running_experiment(settings) is not None:
            stop_experiment(settings, "demo finished")
        print(markdown(analysis))
        print(f"wrote {plot(analysis, args.out / f'experiment-{NAME}.png')}")
    finally:
        if api is not None:
            api.stop()
        if poller is not None:
            poller.stop()
        stack.down(started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

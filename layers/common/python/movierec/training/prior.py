"""Prior data for ranker v2: other people's histories that teach which movies go together.

The course stream is small (1,313 users with 3 or more movies, 28k interactions over 20k movies), so
most co-occurrence counts are 0 or 1 and EASE's neighbour lists are mostly noise. The course users'
choices look like MovieLens users' choices: on the course stream's validation split, EASE fitted on the
stream plus ml-latest-small (its movies in stream ids) scored HR@20 0.116 against 0.103 without
(docs/evaluation.md). So ranker v2 may add those histories as extra users of its Gram matrix, weighted
by ``FitParams.prior_weight`` (0 = off), which the tuner chooses on validation like every other knob;
the "watched next" transitions and the popularity stay learned from the source's own data only.

On AWS the train function has no data folder: ``movierec data publish-prior`` stores these histories
(already in stream ids) in the index bucket, and ``MOVIEREC_TRAIN_PRIOR`` names that object instead.

Prior users are keyed by negative ids (:func:`movierec.evaluation.interactions.load_prior`), and
:func:`usable_prior` refuses the whole prior when it shares even one (movie, time) pair with the
training data: then the training data IS that data set — ``make up`` replays MovieLens into the running
system with MovieLens' own timestamps — and the prior would hold the replayed users' held-out movies
(the validation and holdout targets the model is judged on) and the future of the users not replayed
yet (what ``movierec replay loop`` asks about). Course timestamps (2024-2025) never meet MovieLens'
(1996-2018) by chance.
"""

from __future__ import annotations

import numpy as np

from movierec.models.ranking import Interaction
from movierec.ranking.vocabulary import Train, Vocabulary, user_item_matrix, vocabulary

#: The ``source`` of a prior stored as a training snapshot (``movierec data publish-prior``), so a training
#: snapshot of course data named by mistake is refused rather than mixed into the Gram matrix.
PRIOR_SOURCE = "movielens-prior"


def usable_prior(prior: Train, train: Train) -> dict[int, tuple[Interaction, ...]]:
    """``prior`` (users whose id ``train`` also uses left out), or nothing when it shares any (movie,
    time) pair with ``train`` (the same data set: see the module docstring)."""
    seen = {(i.movie_id, i.last_seen) for h in train.values() for i in h}
    if any((i.movie_id, i.last_seen) in seen for h in prior.values() for i in h):
        return {}
    return {u: tuple(h) for u, h in prior.items() if u not in train}


def gram_with_prior(train: Train, prior: Train | None, weight: float, min_count: int, max_items: int,
                    ) -> tuple[Vocabulary, np.ndarray, dict[int, tuple[Interaction, ...]]]:  # fmt: skip
    """The vocabulary (movies with ``min_count`` users among ``train``'s and the usable prior's), EASE's
    dense Gram matrix ``X^T X + weight * P^T P`` over it, and the usable prior users (none when ``weight``
    is 0 or there is no prior)."""
    extra = usable_prior(prior, train) if prior and weight > 0 else {}
    vocab = vocabulary({**train, **extra}, min_count, max_items)
    x = user_item_matrix(train, vocab)
    gram = (x.T @ x).toarray()
    if extra:
        xp = user_item_matrix(extra, vocab)
        gram += np.float32(weight) * (xp.T @ xp).toarray()
    return vocab, gram, extra

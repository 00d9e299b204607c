"""Prior data for a train function without a data folder (AWS): ``movierec data publish-prior`` stores
MovieLens' histories in the index bucket (moto S3 over a real connection), and ``MOVIEREC_TRAIN_PRIOR``
(the template's ``TrainPrior``) names the object. What training reads from there must be exactly what it
reads from the data folder; a missing object is trained without (logged), a wrong one fails the run."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from infra import cfn
from infra.cli import main as cli
from infra.invoke import function_spec
from movierec.config import Settings, get_settings
from movierec.dal.snapshots import write_snapshot
from movierec.models.ranking import Interaction, InteractionLog
from movierec.training.job import publish_prior, training_prior

#: A course user: course times (2025) never meet MovieLens' (1996-2018), so the whole prior is usable.
COURSE = InteractionLog({1: (Interaction("heat+1995", 1.7e9, 4.0), Interaction("toy+story+1995", 1.7e9 + 60))}, (),
                        source="dynamodb")  # fmt: skip


def test_the_published_prior_is_the_data_folder_prior(isolated: Settings, data_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("MOVIEREC_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    assert cli(["data", "publish-prior"]) == 0
    found = re.search(r"MOVIEREC_TRAIN_PRIOR=(\S+)", capsys.readouterr().out)
    assert found, "publish-prior printed no key"
    key = found.group(1)
    # The key is what the template's parameter accepts, and what the train function is then given.
    assert re.fullmatch(cfn.load()["Parameters"]["TrainPrior"]["AllowedPattern"], key)
    spec = function_spec("TrainFunction", isolated, parameters={"TrainPrior": key})
    assert spec.environment["MOVIEREC_TRAIN_PRIOR"] == key
    assert function_spec("TrainFunction", isolated).environment["MOVIEREC_TRAIN_PRIOR"] == "none"

    local = replace(isolated, data_dir=data_dir)
    assert publish_prior(local) == key  # content-addressed: the same files, the same object
    from_folder = training_prior("dynamodb", local, COURSE)
    # As on AWS: no data folder at all, only the object in the bucket.
    from_store = training_prior("dynamodb", replace(isolated, data_dir=tmp_path, train_prior=key), COURSE)
    assert from_folder is not None and len(from_folder) == 610
    assert from_store == from_folder


def test_a_missing_prior_is_trained_without_and_a_wrong_one_fails(isolated: Settings,
                                                                  caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    missing = "snapshots/" + "0" * 64 + ".json.gz"
    assert training_prior("dynamodb", replace(isolated, train_prior=missing), COURSE) is None
    assert "no prior data: training without it" in caplog.text
    # A training snapshot of course data is not a prior: refused, not mixed into the Gram matrix.
    course_key = write_snapshot(COURSE, isolated)
    with pytest.raises(ValueError, match="not a prior"):
        training_prior("dynamodb", replace(isolated, train_prior=course_key), COURSE)
    with pytest.raises(ValueError, match="unknown MOVIEREC_TRAIN_PRIOR"):
        training_prior("dynamodb", replace(isolated, train_prior="s3://elsewhere/prior.csv"), COURSE)


def test_a_parameter_a_deploy_would_refuse_is_refused_before_the_function_runs(isolated: Settings) -> None:
    with pytest.raises(ValueError, match="TrainPrior.*AllowedPattern"):
        function_spec("TrainFunction", isolated, parameters={"TrainPrior": "movielens"})  # no data folder on AWS
    with pytest.raises(ValueError, match="KafkaSourceType.*not one of"):
        function_spec("IngestFunction", isolated, parameters={"KafkaSourceType": "Kinesis"})
    with pytest.raises(ValueError, match="not parameters of the template: Nope"):
        function_spec("TrainFunction", isolated, parameters={"Nope": "1"})

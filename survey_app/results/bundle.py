"""The reproducibility bundle: a zip of the exported data, the recognised codes, the
report's figures and an R script (``reproduce.R``, a file beside this module) that
rebuilds the design with ``survey::svydesign`` and prints R's figures beside the
report's."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from questionnaires import Questionnaire, load_version
from survey_app.results.evaluation import Evaluation, evaluation_json
from survey_app.results.exports import ExportTable, csv_bytes

_HERE = Path(__file__).resolve().parent
README = (_HERE / "bundle_README.txt").read_text(encoding="utf-8")
REPRODUCE_R = (_HERE / "reproduce.R").read_text(encoding="utf-8")


def recognised_csv(table: ExportTable) -> bytes:
    """``item, questionnaire, version, recognised, not_recognised, dont_know``: the option
    codes (space-separated) that count as recognised and as not recognised in each
    questionnaire version answered; any other code (不了解) is left out of the rates."""
    columns = {info.column for info in table.items}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["item", "questionnaire", "version", "recognised", "not_recognised", "dont_know"]
    )
    loaded: dict[tuple[str, int], Questionnaire] = {v: load_version(*v) for v in table.versions}
    for (key, version), questionnaire in loaded.items():
        for item in questionnaire.items:
            name = f"{key}.{item.id}"
            if name not in columns:
                continue
            recognised = sorted(o.code for o in item.scale.options if o.recognised)
            not_recognised = sorted(o.code for o in item.scale.options if not o.recognised)
            writer.writerow(
                [
                    name,
                    key,
                    version,
                    " ".join(map(str, recognised)),
                    " ".join(map(str, not_recognised)),
                    item.dont_know_code,
                ]
            )
    return out.getvalue().encode("utf-8")


def bundle_bytes(table: ExportTable, evaluation: Evaluation) -> bytes:
    """A zip: data.csv, recognised.csv, report.json (``flask results --json``),
    reproduce.R and README.txt."""
    report = json.dumps(evaluation_json(evaluation), ensure_ascii=False, indent=2)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("README.txt", README.format(campaign=evaluation.campaign.key))
        bundle.writestr("data.csv", csv_bytes(table))
        bundle.writestr("recognised.csv", recognised_csv(table))
        bundle.writestr("report.json", report.encode("utf-8"))
        bundle.writestr("reproduce.R", REPRODUCE_R)
    return out.getvalue()

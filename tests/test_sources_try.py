"""`computeflow sources try`: the real ingest of one sample into a scratch lake, reported without writing anything."""

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.demo.pricing import rate_cards_frame
from tests.test_new_provider import SAMPLE as SENSETIME_SAMPLE
from tests.test_new_provider import SPEC as SENSETIME_SPEC
from warehouse.settings import CONTRACTS_DIR

pytestmark = pytest.mark.slow  # tries specs on sample files through the ingest engine

SOURCES, SAMPLES = CONTRACTS_DIR / "sources", CONTRACTS_DIR / "samples"
LLM = SAMPLES / "azure_llm_inference_2023" / "AzureLLMInferenceTrace_conv_head.csv"


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deployment home whose landing zone has the demo's reference rate cards, and nothing else."""
    home = tmp_path / "home"
    (home / "landing" / "reference").mkdir(parents=True)
    rate_cards_frame().write_csv(home / "landing" / "reference" / "rate_cards.csv")
    monkeypatch.setenv("COMPUTEFLOW_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    return home


def try_sample(spec: Path, sample: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sources", "try", str(spec), "--sample", str(sample)])
    return result.exit_code, result.output


def test_a_token_provider_shows_lines_money_and_the_rate_cards_that_priced_them(deployment: Path) -> None:
    code, output = try_sample(SOURCES / "azure_llm_trace.yaml", LLM)
    assert code == 0, output
    with open(LLM, encoding="utf-8") as handle:
        requests = list(csv.DictReader(handle))
    money = sum(
        Decimal(str(round(int(r["ContextTokens"]) / 1e6 * 1.6, 4)))
        + Decimal(str(round(int(r["GeneratedTokens"]) / 1e6 * 6.4, 4)))
        for r in requests
    )
    assert f"rows read {2 * len(requests)}, loaded {2 * len(requests)}, quarantined 0" in output
    assert f"billed_cost_cny {money}" in output
    tokens = sum(int(r["ContextTokens"]) + int(r["GeneratedTokens"]) for r in requests)
    assert f"consumed_quantity {float(tokens)}" in output
    for service, price in (("llm_input_tokens", "1.6"), ("llm_output_tokens", "6.4")):
        row = next(line for line in output.splitlines() if service in line and "conversation-llm" in line)
        assert price in row and f"{len(requests)}" in row
    assert "would fail" in output and ", 0 would fail" in output
    assert (
        not (deployment / "catalog.sqlite").exists() and not (deployment / "lake").exists()
    )  # nothing written


def test_a_provider_priced_per_gpu_hour_shows_the_rate_card_that_priced_a_line(
    deployment: Path, tmp_path: Path
) -> None:
    spec, sample = tmp_path / "sensetime.yaml", tmp_path / "SenseCore_2025-08-02.csv.gz"
    spec.write_text(SENSETIME_SPEC, encoding="utf-8")
    sample.write_bytes(gzip.compress(SENSETIME_SAMPLE.encode("utf-8")))
    code, output = try_sample(spec, sample)
    assert code == 0, output
    assert "rows read 3, loaded 3, quarantined 0" in output
    row = next(line for line in output.splitlines() if "gpu_compute" in line and "H800" in line)
    assert row.rstrip(" │").endswith("1")  # the one line without an amount (ST-2)


def test_bad_rows_are_shown_with_their_rule_and_examples(deployment: Path, tmp_path: Path) -> None:
    sample = tmp_path / "requests.csv"
    lines = LLM.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",lots"  # request 3: output tokens that are no number
    sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = try_sample(SOURCES / "azure_llm_trace.yaml", sample)
    assert code == 0, output  # one bad line in 160 is within the source's quarantine limit
    row = next(line for line in output.splitlines() if "unparsable:consumed_quantity" in line)
    assert "│ 1 " in row and "3:" in row and "lots" in output


def test_a_gpu_trace_without_prices_or_chips(deployment: Path) -> None:
    code, output = try_sample(
        SOURCES / "alibaba_pai.yaml", SAMPLES / "alibaba_pai_gpu_2023" / "openb_pod_list_default.csv"
    )
    assert code == 0, output
    assert "rows read 8152, loaded 6203, quarantined 0, skipped 1949" in output
    assert "skip:cpu_only" in output and "skip:never_scheduled" in output
    chips = next(line for line in output.splitlines() if line.startswith("│ chip_model"))
    assert "unknown" in chips
    assert "billed_cost_cny None" in output and ", 0 would fail" in output


def test_a_report_whose_lines_differ_by_record_type(deployment: Path) -> None:
    code, output = try_sample(SOURCES / "nersc_hpss.yaml", SAMPLES / "nersc_transfer_logs" / "hpss_daily.txt")
    assert code == 0, output
    assert "rows read 236, loaded 57, quarantined 0, skipped 179" in output


def test_every_mistake_of_a_spec_at_once(deployment: Path, tmp_path: Path) -> None:
    spec = tmp_path / "azure_llm_trace.yaml"
    text = (SOURCES / "azure_llm_trace.yaml").read_text(encoding="utf-8")
    text = text.replace("  model_id: {const: conversation-llm}\n", "  model: {const: conversation-llm}\n")
    text = text.replace("truncate(requested_at, 'hour')", "truncate(requested_at, 'week')")
    spec.write_text(text + "colour: red\n", encoding="utf-8")
    code, output = try_sample(spec, LLM)
    assert code == 1
    assert f"{spec}: colour: unknown key" in output
    spec.write_text(text, encoding="utf-8")
    code, output = try_sample(spec, LLM)
    assert code == 1
    assert "columns.model: not a column of the usage table" in output
    assert "columns.charge_period_start.expr: truncate() takes a unit" in output
    assert "pricing.per: model needs a model_id mapping" in output


def test_a_rejected_file_exits_non_zero(deployment: Path, tmp_path: Path) -> None:
    sample = tmp_path / "requests.csv"
    lines = LLM.read_text(encoding="utf-8").splitlines()
    sample.write_text("\n".join([lines[0], *(line.replace(",", ",x", 1) for line in lines[1:])]) + "\n")
    code, output = try_sample(SOURCES / "azure_llm_trace.yaml", sample)
    assert code == 1 and ": rejected" in output and "above the limit of 5.0%" in output


def test_a_rejected_trace_says_which_spec_keys_fix_it(deployment: Path, tmp_path: Path) -> None:
    spec = tmp_path / "alibaba_pai.yaml"
    text = (SOURCES / "alibaba_pai.yaml").read_text(encoding="utf-8")
    spec.write_text(
        text.replace("unpriced: true\n", "").replace("unknown_chip: load\n", ""), encoding="utf-8"
    )
    code, output = try_sample(spec, SAMPLES / "alibaba_pai_gpu_2023" / "openb_pod_list_default.csv")
    assert code == 1 and ": rejected" in output and "(rules below)" in output
    assert "see audit.quarantine" not in output
    assert "missing_required: map the column (or, for chip, `unknown_chip: load`" in output
    assert "contract: no rows would load, so none to check" in output

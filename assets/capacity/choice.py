"""The choice of one model per series from its backtest scores."""

from __future__ import annotations

import pandas as pd

from assets.capacity.models import SIMPLICITY


def choose_models(backtest_df: pd.DataFrame) -> pd.DataFrame:
    """The model with the lowest backtest MASE per series (ties to the simpler one), with the reason."""
    rows = [_choice(str(uid), group) for uid, group in backtest_df.groupby("unique_id", sort=True)]
    return pd.DataFrame(rows, columns=["unique_id", "model", "reason"])


def _choice(uid: str, group: pd.DataFrame) -> dict:
    scored = group[group["mase"].notna()]
    if scored.empty:
        if (group["n_windows"] == 0).all():
            return {"unique_id": uid, "model": group["model"].iloc[0], "reason": group["note"].iloc[0]}
        return {"unique_id": uid, "model": "SeasonalNaive", "reason": "every candidate failed in backtest"}
    ranked = scored.assign(
        _mase=scored["mase"].round(9), _rank=scored["model"].map(SIMPLICITY).fillna(len(SIMPLICITY))
    ).sort_values(["_mase", "_rank"])
    best = ranked.iloc[0]
    reason = f"lowest MASE {best['mase']:.3f} of {len(scored)} model(s) over {best['n_windows']} window(s)"
    baseline = scored.loc[scored["model"] == "SeasonalNaive", "mase"]
    if best["model"] != "SeasonalNaive" and not baseline.empty:
        reason += f"; SeasonalNaive {baseline.iloc[0]:.3f}"
    return {"unique_id": uid, "model": best["model"], "reason": reason}

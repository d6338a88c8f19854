#!/usr/bin/env python3
"""Section 4c of BENCHMARKS.md: what observing the fleet costs in AWS calls.

Reads scripts/bench-sweep-fake's results (target/bench/sweep-fake.json) and a
recorded baseline (benches/sweep-fake/observe-baseline.json: the same fleets
swept by an earlier commit) and prints the Markdown section: calls by
operation, calls per endpoint and per non-candidate endpoint, decisions and
their digest, peak RSS, before and now. scripts/bench includes it; by hand:

    scripts/bench-sweep-fake && .venv/bin/python scripts/bench_observe.py

*Per non-candidate*: every call of the sweep except those naming a candidate
endpoint (migrate or deferred), its config or its model, over the endpoints
that are not candidates; fleet-wide calls (lists, Search, tags, metrics,
prices) are all charged to the non-candidates. The baseline's fake did not
tally calls by endpoint; there each candidate cost exactly 3 (see the
baseline file), so its figure is (calls - 3 x candidates) / non-candidates.
Target (issue 12 item 6): at most 0.5 at 5,000 endpoints, with the same
decision digest as the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "benches/sweep-fake/observe-baseline.json"
TARGET_PER_NON_CANDIDATE = 0.5
TARGET_SIZE = 5000
# Issue 12's acceptance: calls and RSS at 1k/5k at most this much over the baseline's.
PRICING_TOLERANCE = 0.10


def _total(result: dict) -> int:
    return sum(result["calls"].values())


def _candidates(result: dict) -> int:
    return result["decisions"].get("migrate", 0) + result["decisions"].get("deferred", 0)


def per_non_candidate(result: dict) -> float | None:
    if result.get("per_non_candidate") is not None:
        return result["per_non_candidate"]
    others = result["endpoints"] - _candidates(result)
    return (_total(result) - 3 * _candidates(result)) / others if others else None


def _row(label: str, r: dict) -> str:
    ops = ", ".join(f"{op} {n}" for op, n in sorted(r["calls"].items()))
    decisions = ", ".join(f"{k} {v}" for k, v in sorted(r["decisions"].items()))
    pnc = per_non_candidate(r)
    return (f"| {label} | {r['endpoints']} | {_total(r)} | {ops} | {_total(r) / r['endpoints']:.2f} | "
            f"{'-' if pnc is None else f'{pnc:.2f}'} | {decisions} | `{r['decision_digest']}` | "
            f"{r['rss_mb']:.1f} MB |")


def observe_section(now: list[dict], baseline: dict | None) -> tuple[list[str], list[str]]:
    """(Markdown lines, missed targets) for section 4c."""
    lines, misses = [], []
    add = lines.append
    now = sorted(now, key=lambda r: r["endpoints"])
    before = {r["endpoints"]: r for r in (baseline or {}).get("results", [])}
    add("### 4c. Observing the fleet: AWS calls per endpoint (issue 12 item 6)")
    add("")
    add("The fleets of 4b (scripts/bench-sweep-fake), rendered by scripts/bench_observe.py. *Per non-candidate*: "
        "every call except those naming a candidate (migrate/deferred) endpoint, its config or its model, over "
        "the other endpoints (fleet-wide calls all charged to them). *Digest*: a hash of every row's "
        "(endpoint, decision, reason codes): equal digests = the same decisions for every endpoint. Calls do "
        "not depend on the build profile; RSS does (compare rows of one profile).")
    if baseline:
        add(f"*Before*: {baseline['what']}; {baseline['non_candidate_calls']}.")
    add("")
    add("| sweep | endpoints | calls | by operation | per endpoint | per non-candidate | decisions | digest | "
        "peak RSS |")
    add("|---|---|---|---|---|---|---|---|---|")
    for r in now:
        if r["endpoints"] in before:
            add(_row(f"before ({baseline['commit']}, {before[r['endpoints']]['profile']})", before[r["endpoints"]]))
        add(_row(f"now ({r.get('profile', '?')})", r))
        old = before.get(r["endpoints"])
        if old and old["decision_digest"] != r["decision_digest"]:
            misses.append(f"observe {r['endpoints']}: decision digest {r['decision_digest']} differs from "
                          f"{baseline['commit']}'s {old['decision_digest']}")
        pnc = per_non_candidate(r)
        if r["endpoints"] == TARGET_SIZE and (pnc is None or pnc > TARGET_PER_NON_CANDIDATE):
            misses.append(f"observe {TARGET_SIZE}: {pnc} calls per non-candidate > {TARGET_PER_NON_CANDIDATE}")
    add("")
    at_target = [r for r in now if r["endpoints"] == TARGET_SIZE]
    if at_target:
        pnc = per_non_candidate(at_target[0])
        met = not [m for m in misses if m.startswith("observe")]
        add(f"Target \"at most {TARGET_PER_NON_CANDIDATE} calls per non-candidate endpoint at {TARGET_SIZE:,}, "
            f"same decisions\": **{'met' if met else 'not met'}** ({pnc:.2f}).")
        add("")
    pricing_lines, pricing_misses = _pricing(now, before, baseline)
    lines.extend(pricing_lines)
    return lines, misses + pricing_misses


def _pricing(now: list[dict], before: dict, baseline: dict | None) -> tuple[list[str], list[str]]:
    """Issue 12's acceptance: with pricing included (the fake answers GetProducts with Price List pages),
    calls and peak RSS at each size stay within 10% of the baseline's (same profile)."""
    lines, misses, parts = [], [], []
    for r in now:
        old = before.get(r["endpoints"])
        if not old or old.get("profile") != r.get("profile"):
            continue
        calls, rss = _total(r) / _total(old) - 1, r["rss_mb"] / old["rss_mb"] - 1
        priced = r.get("rows_priced_by_price_list") or 0
        parts.append(f"{r['endpoints']:,}: {r['calls'].get('GetProducts', 0)} GetProducts, {priced} rows priced by "
                     f"the price list, calls {calls:+.0%}, peak RSS {rss:+.0%} ({old['rss_mb']:.1f} -> "
                     f"{r['rss_mb']:.1f} MB)")
        if calls > PRICING_TOLERANCE or rss > PRICING_TOLERANCE or not priced:
            misses.append(f"pricing {r['endpoints']}: calls {calls:+.0%}, RSS {rss:+.0%}, {priced} rows priced "
                          f"by the price list")
    if parts:
        lines.append(f"Pricing included (issue 12): the fake answers GetProducts with Price List pages "
                     f"(benches/sweep-fake/src/prices.rs), against {baseline['commit']} in the same profile: "
                     + "; ".join(parts) + f". Target \"calls and peak RSS within {PRICING_TOLERANCE:.0%} of "
                     f"{baseline['commit']}'s, pricing included\": **{'not met' if misses else 'met'}**.")
        lines.append("")
    return lines, misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake", default=str(ROOT / "target/bench/sweep-fake.json"),
                        help="scripts/bench-sweep-fake's results")
    parser.add_argument("--baseline", default=str(BASELINE))
    args = parser.parse_args()
    now = json.loads(Path(args.fake).read_text())
    baseline = json.loads(Path(args.baseline).read_text()) if Path(args.baseline).exists() else None
    lines, misses = observe_section(now, baseline)
    print("\n".join(lines))
    if misses:
        print("Missed: " + "; ".join(misses) + ".", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Render the benchmark results as Markdown."""

from __future__ import annotations

from typing import Any


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"


def _grp(acc: dict[str, Any], group: str) -> str:
    g = acc["by_group"].get(group)
    return f"{g['found']}/{g['total']}" if g else "n/a"


def _held(h: dict[str, Any] | None) -> str:
    if not h:
        return "n/a"
    return f"{h['found']}/{h['secrets']} / {_pct(h['precision'])}, {h['decoys_reported']} decoys"


def markdown(results: dict[str, Any]) -> str:
    corpus = results["corpus"]
    sizes = corpus.get("sizes_bytes") or {}
    lines = [
        f"Corpus: {corpus['secrets']} planted secrets of {corpus['kinds']} kinds, "
        f"{corpus['decoys']} decoys; large tree {sizes.get('large', 0) / 1e6:.0f} MB "
        f"(subset {sizes.get('subset', 0) / 1e6:.1f} MB). Machine: {results['machine']['nproc']} "
        f"CPUs, {results['date_utc']}.",
        "",
        "| tool | recall | plain files | notebooks | archives | history | precision "
        "| decoys reported | held-out contexts (recall / precision) "
        "| MB/s (large) | MB/s (subset) | re-scan unchanged |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in results["tools"].items():
        acc = entry["labelled"]
        perf = entry.get("throughput", {})
        large = perf.get("large", {})
        mbps = large.get("mb_per_s")
        large_txt = "n/a" if mbps is None else f"{mbps:.1f}"
        if large.get("scaled_from_subset"):
            large_txt += " (subset, scaled)"
        sub = perf.get("subset", {}).get("mb_per_s")
        rescan = perf.get("rescan_cached", {}).get("median_s")
        version = entry["version"].removeprefix(name).strip()
        lines.append(
            f"| {name} {version} | {_pct(acc['recall'])} ({acc['found']}/{acc['secrets']})"
            f" | {_grp(acc, 'plain files')} | {_grp(acc, 'notebooks')} | {_grp(acc, 'archives')}"
            f" | {_grp(acc, 'history')} | {_pct(acc['precision'])} | {acc['decoys_reported']}"
            f" | {_held(entry.get('holdout'))}"
            f" | {large_txt} | {'n/a' if sub is None else f'{sub:.2f}'}"
            f" | {'n/a' if rescan is None else f'{rescan:.2f} s'} |"
        )
    lines.append("")
    for name, entry in results["tools"].items():
        acc = entry["labelled"]
        missed = [
            f"{k} ({v['found']}/{v['total']})"
            for k, v in acc["by_kind"].items()
            if v["found"] < v["total"]
        ]
        lines.append(f"- **{name}** missed kinds: {', '.join(missed) or 'none'}")
        if acc["decoy_categories_reported"]:
            cats = ", ".join(
                f"{k} {v}" for k, v in sorted(acc["decoy_categories_reported"].items())
            )
            lines.append(f"  decoys reported by category: {cats}")
        held = entry.get("holdout")
        if held and held["missed"]:
            lines.append(
                "  held-out misses: "
                + ", ".join(
                    m.split()[1] + " (" + m.split()[2].split("/", 1)[1] + ")"
                    for m in held["missed"]
                )
            )
        lr = entry.get("large_recall")
        if lr:
            lines.append(
                f"  large tree: {lr['found']}/{lr['secrets']} planted found, "
                f"{lr['other_false_positives']} other locations reported"
            )
    return "\n".join(lines) + "\n"

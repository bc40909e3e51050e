"""The benchmark's report (Markdown) and its plot. Call its functions, except git_facts, only after django.setup()."""

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from corpus import COMMON_WORD, MAX_CHARS, MIN_CHARS, RARE_HITS, RARE_WORD
from timing import meminfo_kib, median_interval, paired_ratio, trial_ratios

PROJECT = Path(__file__).resolve().parent.parent


# --- facts about the run ----------------------------------------------------------------------


def environment_facts(kind: str, command_line: str, cwd: str, mode: str, git_at_start: dict) -> dict:
    import django
    import rest_framework
    from django.db import connection

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": mode,
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "ram_gib": meminfo_kib("MemTotal") / 1024 / 1024,
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "django": django.get_version(),
        "drf": rest_framework.VERSION,
        "command": command_line,
        "cwd": cwd,
        "vendor": connection.vendor,
        # The code as the run found it; later edits are flagged rather than recorded as what ran.
        "git": {**git_at_start, "changed_during_run": service_changed_since(git_at_start)},
    }
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            facts["sqlite_version"] = connection.Database.sqlite_version
            pragmas = {}
            for pragma in ["journal_mode", "synchronous", "secure_delete", "page_size", "cache_size"]:
                cursor.execute(f"PRAGMA {pragma}")
                pragmas[pragma] = cursor.fetchone()[0]
            facts["sqlite_pragmas"] = pragmas
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'sessions_app_message'"
            )
            facts["message_triggers"] = [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%fts5%'")
            facts["fts_tables"] = [row[0] for row in cursor.fetchall()]
        else:
            cursor.execute("SHOW server_version")
            facts["postgres_version"] = cursor.fetchone()[0]
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'sessions_app_message'")
            facts["message_indexes"] = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'sessions_app_message'::regclass AND NOT tgisinternal"
            )
            facts["message_triggers"] = [row[0] for row in cursor.fetchall()]
    return facts


def git_facts() -> dict:
    def git(*args):
        try:
            return subprocess.run(
                ["git", *args], cwd=PROJECT, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    service = ["sessions_app", "pocketpaw", "requirements.txt"]
    changed = git("status", "--porcelain", "--", *service)
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "service_changes": changed.splitlines(),
        # The service's own files, so that a commit of other files during a run is not taken for a change.
        "service_trees": git("rev-parse", *(f"HEAD:{path}" for path in service)).split(),
    }


def service_changed_since(start: dict) -> bool:
    now = git_facts()
    return (now["service_trees"], now["service_changes"]) != (start["service_trees"], start["service_changes"])


# --- formatting -------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    value = seconds * 1000
    if value >= 100:
        return f"{value:,.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def pairs_interval(a_times: list[float], b_times: list[float]) -> str | None:
    """The confidence interval of the median of a/b over interleaved trials, as text (None when too few trials)."""
    interval = median_interval(trial_ratios(a_times, b_times))
    if interval is None:
        return None
    low, high, coverage = interval
    return f"{low:.2f} to {high:.2f}, coverage {coverage:.0%}"


def paired_ratio_cell(a_times: list[float], b_times: list[float], ratio_of_medians: float, judged_on_pairs=True) -> str:
    """A summary cell: the judged ratio first, then the other, with the confidence interval of the trials' ratios."""
    paired = paired_ratio(a_times, b_times)
    interval = pairs_interval(a_times, b_times)
    interval = f", confidence interval {interval}" if interval else ""
    if judged_on_pairs:
        return f"{paired:.2f} (median of the trials' ratios{interval}; of medians: {ratio_of_medians:.2f})"
    return f"{ratio_of_medians:.1f} (of medians; median of the trials' ratios {paired:.1f}{interval})"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "**MISS**"


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def code_block(text: str) -> list[str]:
    return ["```", text.rstrip(), "```"]


# --- the summary ------------------------------------------------------------------------------


def summary_rows(results: dict) -> list[list]:
    rows = []
    quick = results["meta"]["mode"] == "quick"
    delete = results.get("delete")
    if delete:
        last = delete["rows"][-1]["n"]
        for row in delete["rows"]:
            judged = row["n"] == last
            rows.append(
                [
                    "1",
                    f"DELETE /api/sessions/{{id}}, N = {row['n']:,} messages, vs bare SQL DELETEs",
                    ms(row["api"]["median"]),
                    ms(row["raw"]["median"]),
                    paired_ratio_cell(row["api"]["times"], row["raw"]["times"], row["ratio"]),
                    "≤ 1.2" if judged else "(shown)",
                    verdict(row["paired_ratio"] <= 1.2) if judged else "-",
                ]
            )
        api_mem, raw_mem = delete["memory"]["api"], delete["memory"]["raw"]
        growth = api_mem["rss_growth_kib"] / 1024
        rows.append(
            [
                "1",
                f"peak-RSS growth of the process serving the N = {delete['memory_n']:,} delete (fresh process, VmHWM)",
                f"{growth:.2f} MB",
                f"{raw_mem['rss_growth_kib'] / 1024:.2f} MB (bare SQL)",
                "-",
                "< 5 MB",
                verdict(growth < 5),
            ]
        )
        backend = api_mem.get("backend")
        if backend:
            rows.append(
                [
                    "1",
                    "the PostgreSQL backend that ran that delete: its own memory (RssAnon) after against before; "
                    "its peak-RSS growth, shared buffers included",
                    f"{backend['rss_kinds_delta_kib']['RssAnon'] / 1024:+.2f} MB; {backend['rss_growth_kib'] / 1024:.2f} MB",
                    f"{raw_mem['backend']['rss_kinds_delta_kib']['RssAnon'] / 1024:+.2f} MB; "
                    f"{raw_mem['backend']['rss_growth_kib'] / 1024:.2f} MB (bare SQL)",
                    "-",
                    "(shown)",
                    "-",
                ]
            )
    store = results.get("store_size")
    if store:
        rows.append(
            [
                "2",
                f"same delete (N = {store['n']:,}) with M = {store['big_m']:,} vs M = {store['small_m']:,} other sessions",
                ms(store["big"]["api"]["median"]),
                ms(store["small"]["api"]["median"]),
                f"{store['ratio']:.2f}",
                "≤ 1.3",
                verdict(store["ratio"] <= 1.3),
            ]
        )
        if "vacuum" in store["big"]:
            big, small = store["big"]["vacuum"]["median"], store["small"]["vacuum"]["median"]
            rows.append(
                [
                    "2",
                    f"VACUUM of the message table after that delete (left to autovacuum), M = {store['big_m']:,} vs "
                    f"M = {store['small_m']:,}",
                    ms(big),
                    ms(small),
                    f"{big / small:.2f}",
                    "(shown)",
                    "-",
                ]
            )
    pocketpaw = results.get("pocketpaw")
    if pocketpaw and "skipped" not in pocketpaw:
        judged_m = max(row["m"] for row in pocketpaw["rows"])
        for row in pocketpaw["rows"]:
            for op in ["delete", "rename", "list", "search_rare", "search_common"]:
                ours, theirs = row["ours"][op]["median"], row["theirs"][op]["median"]
                judged = row["m"] == judged_m
                rows.append(
                    [
                        "3",
                        f"{op.replace('_', ' ')}, M = {row['m']:,} sessions: service layer vs PocketPaw FileMemoryStore",
                        ms(ours),
                        ms(theirs),
                        f"{theirs / ours:.1f}× faster" if theirs >= ours else f"{ours / theirs:.1f}× slower",
                        "faster" if judged else "(shown)",
                        verdict(theirs > ours) if judged else "-",
                    ]
                )
        for n, ours, theirs in delete_against_pocketpaw(results):
            rows.append(
                [
                    "3",
                    f"delete one session of N = {n:,} messages: API DELETE (section 1) vs PocketPaw's delete_session",
                    ms(ours),
                    ms(theirs),
                    f"{theirs / ours:.1f}× faster" if theirs >= ours else f"{ours / theirs:.1f}× slower",
                    "(shown)",
                    "-",
                ]
            )
    elif pocketpaw:
        rows.append(["3", "PocketPaw's FileMemoryStore", "-", "-", "-", "faster", "skipped"])
    listing = results.get("list")
    if listing:
        rows.append(
            [
                "4",
                f"GET /api/sessions?limit=50, {listing['sessions']:,} sessions, vs one indexed SELECT",
                ms(listing["api"]["median"]),
                ms(listing["raw"]["median"]),
                paired_ratio_cell(
                    listing["api"]["times"], listing["raw"]["times"], listing["ratio"], judged_on_pairs=False
                ),
                "≤ 3",
                verdict(listing["ratio"] <= 3),
            ]
        )
        if "last_page" in listing:
            last = listing["last_page"]
            rows.append(
                [
                    "4",
                    f"the same list's last page (offset {last['offset']:,}) vs its first",
                    ms(last["median"]),
                    ms(listing["api"]["median"]),
                    f"{last['median'] / listing['api']['median']:.1f}",
                    "(shown)",
                    "-",
                ]
            )
        growth = listing["api"]["median"] / listing["parts"]["floor_api"]
        rows.append(
            [
                "4",
                f"the same list, {listing['sessions']:,} sessions vs {PAGE_SIZE} sessions (does it grow with the store?)",
                ms(listing["api"]["median"]),
                ms(listing["parts"]["floor_api"]),
                f"{growth:.2f}",
                "≤ 1.2 (ours)",
                verdict(growth <= 1.2),
            ]
        )
        rows.append(
            [
                "4",
                f"queries per list request, {listing['sessions']:,} sessions vs {PAGE_SIZE} sessions",
                len(listing["queries"]),
                listing["floor_queries"],
                "-",
                "constant",
                verdict(len(listing["queries"]) == listing["floor_queries"]),
            ]
        )
    search = results.get("search")
    if search:
        for row in search["rows"]:
            # The issue's targets name the rare and the common word; the other rows are shown.
            judged = row["word"] in ("rare", "common")
            for base, label, target in [
                ("plain", "the plain icontains scan", "≥ 10× faster" if judged else "(shown)"),
                # The service's own first query: no request can be much faster than it, so shown, not judged.
                ("exists", "its own newest-first EXISTS query", "(shown)"),
            ]:
                speedup = row[f"speedup_{base}"]
                rows.append(
                    [
                        "5",
                        f"GET /api/sessions/search, {search_row_label(row)}, {search['messages']:,} messages, vs {label}",
                        ms(row["api"]["median"]),
                        ms(row[base]["median"]),
                        f"{speedup:.1f}× faster" if speedup >= 1 else f"{1 / speedup:.1f}× slower",
                        target,
                        verdict(speedup >= 10) if base == "plain" and judged else "-",
                    ]
                )
        same = all(row["same"] for row in search["rows"])
        rows.append(
            [
                "5",
                "search: same session ids from the API and both scans",
                "-",
                "-",
                "-",
                "same",
                "PASS" if same else "**FAIL**",
            ]
        )
    reading = results.get("reading")
    if reading:
        history = reading["history"]
        rows.append(
            [
                "7",
                f"GET history?limit={reading['history_limit']}, session of {reading['big_n']:,} vs "
                f"{reading['small_n']:,} messages (does it grow with the session?)",
                ms(history["big"]["median"]),
                ms(history["small"]["median"]),
                f"{reading['history_growth']:.2f}",
                "≤ 1.2 (ours)",
                verdict(reading["history_growth"] <= 1.2),
            ]
        )
        export = reading["export"]
        rows.append(
            [
                "7",
                f"GET export (JSON) of {reading['big_n']:,} messages vs reading the same rows with one cursor",
                ms(export["json"]["median"]),
                ms(export["raw"]["median"]),
                f"{export['json']['median'] / export['raw']['median']:.1f}",
                "(shown)",
                "-",
            ]
        )
        memory = {name: probe["rss_growth_kib"] / 1024 for name, probe in reading["export_memory"].items()}
        rows.append(
            [
                "7",
                f"peak-RSS growth of a fresh process serving that export, {reading['big_n']:,} vs "
                f"{reading['mid_n']:,} messages (does it grow with the session?)",
                f"{memory['big']:.2f} MB",
                f"{memory['mid']:.2f} MB",
                f"{memory['big'] - memory['mid']:+.2f} MB",
                "< +1 MB (ours)",
                verdict(memory["big"] - memory["mid"] < 1),
            ]
        )
        bound = export_memory_bound_mb(reading)
        rows.append(
            [
                "7",
                f"the same for {reading['long_n']:,} messages of {reading['longest']:,} characters (the longest "
                f"allowed; one fetch holds {reading['chunk_rows']} rows)",
                f"{memory['long']:.2f} MB",
                f"{bound:.0f} MB (rows of 1 fetch × longest)",
                "-",
                "(shown)",
                "-",
            ]
        )
    writing = results.get("writing")
    if writing:
        times = writing["times"]
        for name, what, grows_with, growth, big_case, small_case in [
            (
                "append",
                "POST /api/sessions/{id}/messages",
                "session",
                writing["append_growth"],
                f"session of {writing['big_n']:,}",
                f"{writing['small_n']:,} messages",
            ),
            (
                "create",
                "POST /api/sessions",
                "store",
                writing["create_growth"],
                f"owner of {writing['store_sessions']:,}",
                f"{writing['floor_sessions']:,} sessions",
            ),
        ]:
            rows.append(
                [
                    "8",
                    f"{what}, {big_case} vs {small_case} (does it grow with the {grows_with}?)",
                    ms(times[f"{name}_big"]["median"]),
                    ms(times[f"{name}_small"]["median"]),
                    f"{growth:.2f}",
                    "≤ 1.2 (ours)",
                    verdict(growth <= 1.2),
                ]
            )
        for name, what in [
            ("append_keyed", "with a new Idempotency-Key vs without one"),
            ("append_replayed", "sent again with its Idempotency-Key (nothing stored) vs without one"),
        ]:
            if name in times:
                rows.append(
                    [
                        "8",
                        f"POST /api/sessions/{{id}}/messages {what}, session of {writing['big_n']:,}",
                        ms(times[name]["median"]),
                        ms(times["append_big"]["median"]),
                        f"{times[name]['median'] / times['append_big']['median']:.2f}",
                        "(shown)",
                        "-",
                    ]
                )
        beside = writing["beside_delete"]
        rows.append(
            [
                "8",
                f"another user's append while a session of {beside['messages']:,} messages is deleted: the slowest, "
                "vs that user's appends alone",
                ms(beside["during_max"]),
                ms(beside["alone_median"]),
                f"{beside['during_max'] / beside['alone_median']:.1f}",
                "(shown)",
                "-",
            ]
        )
    delete_all = results.get("delete_all")
    if delete_all:
        rows.append(
            [
                "9",
                f"POST /api/sessions/bulk-delete {{\"all\": true}}, {delete_all['sessions']:,} sessions of "
                f"{delete_all['messages_per_session']} messages, vs bare SQL DELETEs",
                ms(delete_all["api"]["median"]),
                ms(delete_all["raw"]["median"]),
                f"{delete_all['paired_ratio']:.2f} (of medians: "
                f"{delete_all['api']['median'] / delete_all['raw']['median']:.2f})",
                "(shown)",
                "-",
            ]
        )
        probes = delete_all_memory(delete_all)
        if len(probes) >= 2:
            (few, few_probe), (many, many_probe) = probes[0], probes[-1]
            growth = many_probe["rss_growth_kib"] / 1024
            rows.append(
                [
                    "9",
                    f"peak-RSS growth of a fresh process deleting all of a user's sessions at once, {many:,} vs "
                    f"{few:,} sessions of 1 message",
                    f"{growth:.2f} MB",
                    f"{few_probe['rss_growth_kib'] / 1024:.2f} MB",
                    "-",
                    "< 5 MB (ours)",
                    verdict(growth < 5),
                ]
            )
    throughput = results.get("throughput")
    if throughput:
        for name, run in throughput.items():
            rows.append(
                [
                    "6",
                    f"gunicorn, 2 workers × {threads_label(run_threads(run))}, "
                    f"{run['concurrency']} clients{throughput_run_note(name, run)}, {run['seconds']:.0f} s: "
                    f"{run['rps']:.0f} req/s, p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms",
                    f"{run['errors']} errors",
                    "-",
                    "-",
                    "0 errors",
                    "PASS" if run["errors"] == 0 else "**FAIL**",
                ]
            )
    wall = results["meta"].get("wall_seconds")
    if wall is not None:
        limit_minutes = 1 if quick else 10
        rows.append(
            [
                "run",
                "the whole run, quick sizes (`make bench-quick`)"
                if quick
                else "the whole run, default sizes (`make bench`, `make bench-postgres`)",
                f"{wall / 60:.1f} min",
                "-",
                "-",
                f"< {limit_minutes} min",
                verdict(wall < limit_minutes * 60),
            ]
        )
    if quick:
        for row in rows:
            if row[-1] not in ("-", "skipped", "**FAIL**"):
                row[-1] = f"({row[-1].strip('*').lower()})"
    return rows


# --- the report -------------------------------------------------------------------------------


def markdown(results: dict, errors: list[str], plot_path: Path, output: Path) -> str:
    meta = results["meta"]
    quick = meta["mode"] == "quick"
    title = "Benchmark results" + (" (quick smoke run: tiny sizes, timings not judged)" if quick else "")
    lines = [f"# {title}", ""]
    if errors:
        lines += (
            ["**Errors** (the run exits non-zero):", ""] + [f"- `{e.splitlines()[0]}`" for e in errors] + [""]
        )
    lines += [
        f"Every figure is a ratio against a baseline measured in the same run, on the same database "
        f"({database_line(meta)}), as the median of repeated trials. Wall time of the whole run: "
        f"**{meta['wall_seconds']:.0f} s** ({meta['wall_seconds'] / 60:.1f} min).",
        "",
        "## Summary",
        "",
    ]
    lines += table(
        ["#", "figure", "this service", "baseline", "ratio", "target", "result"], summary_rows(results)
    )
    lines += [""]
    lines += machine_section(meta)
    lines += data_section(results)
    lines += misses_section(results)
    for section in [
        delete_section,
        store_section,
        pocketpaw_section,
        list_section,
        search_section,
        reading_section,
        writing_section,
        delete_all_section,
        throughput_section,
    ]:
        lines += section(results)
    relative = os.path.relpath(plot_path, output.parent)
    lines += [f"![Delete time against session size, log-log]({relative})", ""]
    if errors:
        lines += ["## Errors", ""]
        for error in errors:
            lines += code_block(error)
        lines += [""]
    return "\n".join(lines)


def database_line(meta: dict) -> str:
    if meta["vendor"] == "sqlite":
        return f"SQLite {meta['sqlite_version']}"
    return f"PostgreSQL {meta['postgres_version']}"


def misses_section(results: dict) -> list[str]:
    """Why each missed target is missed, from this run's own measurements, and what would fix it."""
    misses = [row for row in summary_rows(results) if "miss" in row[-1].lower()]
    if not misses:
        return []
    lines = ["## The misses: why, and what would fix them", ""]
    figures = {row[0] for row in misses}
    listing, search = results.get("list"), results.get("search")
    delete = results.get("delete")
    if "run" in figures:
        meta = results["meta"]
        wall, built = meta["wall_seconds"], sum(b["seconds"] for b in meta["builds"])
        why = (
            "The builds are slow because every message goes through the trigram index, and loading first and "
            "indexing afterwards is no faster (`bench/gin_build_experiment.py`)."
            if meta["vendor"] == "postgresql"
            else "Nothing grows past the default sizes, so what moves the wall time from one run to the next is "
            "how fast this shared machine is at the time; the run's own baselines show it (compare them with "
            "another run's report)."
        )
        lines += [
            f"**Wall time ({wall / 60:.1f} min; target under 10).** Building the data took {built:.0f} s of it "
            f"({built / wall:.0%}; each build's rate is in the data section), the rest the trials each figure "
            f"needs (time per step, same section). {why}",
            "",
        ]
    if "1" in figures and delete:
        first, last = delete["rows"][0], delete["rows"][-1]
        fixed = first["api"]["median"] - first["raw"]["median"]
        lines += [
            f"**Delete at N = {last['n']:,} ({last['paired_ratio']:.2f}; target 1.2).** The bare SQL removes "
            f"{last['n']:,} messages in {ms(last['raw']['median'])} on this database. The request's fixed cost, "
            f"what the API adds at N = {first['n']:,} where the rows cost little ({ms(fixed)}: the bearer token, "
            "the session lookup, the row lock, the audit record, the session total, the commit and, on SQLite, "
            f"the WAL checkpoint), is {fixed / last['raw']['median']:.0%} of that baseline by itself; the rest of "
            f"the gap is the spread of single trials (the API's {ms(min(last['api']['times']))} to "
            f"{ms(max(last['api']['times']))}, the bare SQL's {ms(min(last['raw']['times']))} to "
            f"{ms(max(last['raw']['times']))}; every trial in section 1). Per row the API runs the bare statements "
            "themselves, so the ratio falls towards 1 as N grows; where the database deletes rows as fast as "
            "PostgreSQL does, 100,000 messages are not yet enough to hide a request's fixed cost.",
            "",
        ]
    if "4" in figures and listing:
        p = listing["parts"]
        api, raw = listing["api"]["median"], listing["raw"]["median"]
        lean = p["floor_api"] - p["page_orm"] - p["serialize"] + p["lean_page"]
        parts = p["health_api"] + p["authenticate"] + p["page_orm"] + p["serialize"]
        lines += [
            f"**List ({listing['ratio']:.1f}× the bare SELECT; target 3×).** The request costs {ms(api)}, and "
            f"{ms(p['floor_api'])} for a user with {PAGE_SIZE} sessions: nothing in it grows with the store any "
            f"more ({api / p['floor_api']:.2f}×). `total` is the owner's `SessionTotal` row, read by a subquery "
            f"of the page's own statement ({ms(p['total'])} read alone) and kept in step by `session_create` and "
            "`sessions_delete` in their own transactions; "
            f"the `COUNT(*)` it replaced costs {ms(p['count_orm'])} at {listing['sessions']:,} sessions and grows "
            "with them. What is left is work every request does whatever the store holds; each part, measured "
            f"alone (section 4): Django's own floor (`GET /api/health`, no token, one `SELECT 1`) "
            f"{ms(p['health_api'])}; the bearer-token check with the user's row {ms(p['authenticate'])}; the page "
            f"with its total through the ORM {ms(p['page_orm'])}; serialising 50 sessions through "
            f"DRF's fields {ms(p['serialize'])}. Together that is {ms(parts)}, {parts / raw:.1f}× the bare SELECT, "
            f"where the target leaves {ms(3 * raw)} for the whole request. Building the items from one "
            "`.values_list()` query into plain dicts (measured here, checked equal to the serializer's output: "
            f"{ms(p['lean_page'])} against {ms(p['page_orm'] + p['serialize'])}) would bring the request to about "
            f"{ms(lean)}, still ≈ {lean / raw:.0f}× the SELECT, at the price of a second description of a list item "
            "beside the serializer that the API schema is generated from; not done. The target the design can "
            f"meet, and does, is the one in the row below it: the list for {listing['sessions']:,} sessions within "
            f"1.2× of the list for {PAGE_SIZE}.",
            "",
        ]
        inside = listing.get("in_request")
        if inside:
            sql_side = inside["selector"]
            lines[-1:-1] = [
                "",
                f"Timed from inside the request (section 4), the page and the total together take "
                f"{ms(sql_side)} of the {ms(inside['client'])}; the rest ({ms(inside['client'] - sql_side)}) is the "
                f"middleware and routing ({ms(inside['handler'] - inside['dispatch'])}), the token check "
                f"({ms(inside['authenticate'])}), serialising ({ms(inside['serialize'])}), rendering and the test "
                "client itself: work the same for every list, whatever the store holds.",
            ]
    if "5" in figures and search:
        rare = next(r for r in search["rows"] if r["word"] == "rare")
        common = next(r for r in search["rows"] if r["word"] == "common")
        if rare["speedup_plain"] < 10 and search["vendor"] == "sqlite":
            lines += [
                f"**Search, rare word ({1 / rare['speedup_plain']:.1f}× the plain scan's time; target a tenth of "
                "it).** The service runs its newest-first EXISTS query (alone: "
                f"{ms(rare['exists']['median'])}): the plan "
                "(section 5) walks the user's sessions newest first and, per session, reads its messages through "
                "`message_session_time_idx` and tests `LIKE` on each; a word in fewer than 20 sessions makes it read "
                f"all {search['owner_messages']:,} of them; the profile (section 5) puts the request's time inside "
                f"SQLite (`fetchmany`); the selector alone, without HTTP, takes {ms(rare['selector']['median'])}, "
                f"the request {ms(rare['api']['median'])}. A 10× gain needs an index, and SQLite's only substring "
                "index is FTS5's trigram tokenizer. `bench/FTS5.md` (written by `bench/fts5_experiment.py`) measures "
                "it at this scale: it finds a rare word in milliseconds, but every delete then pays the index's "
                "work per message, many times the bare delete's, and the deleted text's trigrams stay in the index "
                "file until a merge of its segments (an `optimize` rewrites the whole index); FTS5's "
                "`secure-delete`, which removes them at once, is not in the service's SQLite 3.40.1 and costs "
                "milliseconds per message where it is. Ratios 1 and 2 would hold (the bare statements fire the same "
                "triggers); what would be lost is the absolute cost of a delete and the permanence the service "
                "promises, so there is no index. " + sqlite_rare_proposal(rare, search),
                "",
            ]
        elif rare["speedup_plain"] < 10:
            lines += [
                f"**Search, rare word ({rare['speedup_plain']:.1f}× the plain scan; target 10×).** See the plan in "
                "section 5: whether the planner uses the trigram GIN index for the correlated EXISTS decides the "
                "rare word's time.",
                "",
            ]
        if common["speedup_plain"] < 10:
            lines += [
                f"**Search, common word ({common['speedup_plain']:.1f}× the plain scan; target 10×).** See section 5 "
                "for the plan and the profile.",
                "",
            ]
    other = sorted(figures - {"run", "1", "4", "5"})
    if other:
        lines += [
            f"Other misses (figure {', '.join(other)}): see their sections below; the medians and every trial are listed there.",
            "",
        ]
    return lines


def sqlite_rare_proposal(rare: dict, search: dict) -> str:
    exists, plain = rare["exists"]["median"], rare["plain"]["median"]
    postgres = (
        "Deployments that need fast rare-word search belong on PostgreSQL, where `pg_trgm` serves it "
        "(bench/RESULTS-postgres.md)."
    )
    if plain >= exists:
        return "SQLite stays index-free (a scan either way). " + postgres
    share = search["owner_messages"] / search["messages"]
    lines = (
        f"The plain scan is faster here ({ms(plain)} against the per-session walk's {ms(exists)}, "
        f"{exists / plain:.1f}×, not 10×) because it reads the table in storage order and the searching "
        f"user owns {share:.0%} of its messages. The plain scan reads every user's messages whoever searches; "
        "the walk reads only the searching user's."
    )
    minority = minority_search(search)
    if minority:
        speedup = minority["speedup_plain"]
        lines += (
            f" For a user who holds {minority['user_messages']:,} of them (section 5) the plain scan cost "
            f"{ms(minority['plain']['median'])} ({ms(plain)} for the big store's owner), and the "
            f"request {ms(minority['api']['median'])} against {ms(rare['api']['median'])}: "
            + (f"{speedup:.0f}× faster than the scan." if speedup >= 1 else f"{1 / speedup:.1f}× slower than the scan.")
        )
    return lines + " So the service keeps the walk. " + postgres


def machine_section(meta: dict) -> list[str]:
    git = meta["git"]
    changes = (
        f"; uncommitted changes in the service at run time: {', '.join(c.strip() for c in git['service_changes'])}"
        if git["service_changes"]
        else "; no uncommitted changes in the service"
    )
    if git.get("changed_during_run"):
        changes += " (**the service's code changed while the benchmark ran**: rerun before trusting this report)"
    lines = [
        "## Machine, versions, command",
        "",
        f"- Machine: {meta['nproc']} CPUs (`nproc`), {meta['cpu']}, {meta['ram_gib']:.1f} GiB RAM, {meta['platform']}",
        f"- {meta['python']}, Django {meta['django']}, Django REST framework {meta['drf']}",
    ]
    if meta["vendor"] == "sqlite":
        p = meta["sqlite_pragmas"]
        triggers = ", ".join(meta["message_triggers"]) or "none"
        fts = ", ".join(meta["fts_tables"]) or "none"
        lines.append(
            f"- SQLite {meta['sqlite_version']} (`django.db.connection.Database.sqlite_version`), the service's settings: "
            f"journal_mode={p['journal_mode']}, synchronous={p['synchronous']}, secure_delete={p['secure_delete']}, "
            f"page_size={p['page_size']}, cache_size={p['cache_size']}; triggers on sessions_app_message: {triggers}; "
            f"FTS5 tables: {fts}"
        )
    else:
        lines.append(
            f"- PostgreSQL server {meta['postgres_version']}; indexes on sessions_app_message: "
            f"{', '.join(meta['message_indexes'])}; triggers: {', '.join(meta['message_triggers']) or 'none'}"
        )
    lines += [
        f"- Database: the benchmark's own ({meta['database_label']}), migrated at start, removed at the end",
        f"- Service code: commit {git['commit']}{changes}",
        f"- Command (from `{meta['cwd']}`): `{meta['command']}`",
        f"- Date: {meta['date']}; mode: {meta['mode']}",
        "",
    ]
    return lines


def data_section(results: dict) -> list[str]:
    meta = results["meta"]
    lines = [
        "## Data",
        "",
        "Built through the ORM's bulk path (`bulk_create`, in transactions of about 20,000 rows). A trial that "
        "needs another session of a size already built gets a copy of the first one's messages, made in the "
        "database (`INSERT ... SELECT` from a side table no figure reads): the same rows through the same "
        "indexes, without Python making each row (the rows marked as copies below). Messages are "
        f"{MIN_CHARS}-{MAX_CHARS} characters (uniform, mean about 420) of pseudo-English drawn from a fixed word list "
        f"with a fixed seed (`bench/corpus.py`), alternating user and assistant. The rare word `{RARE_WORD}` is in exactly "
        f"{RARE_HITS} sessions of each store, fewer than a search page, so finding them all means looking at every "
        f"message; the common word `{COMMON_WORD}` is in about 87% of messages. Besides the user under test, "
        f"{meta['sizes']['background_users']} other users hold {meta['sizes']['background_sessions']:,} sessions "
        "of 10 messages each, so every query has to scope by owner.",
        "",
    ]
    rows = [
        [
            b["label"],
            f"{b['builds']:,}",
            f"{b['sessions']:,}",
            f"{b['messages']:,}",
            f"{b['seconds']:.1f} s",
            f"{b['messages'] / b['seconds']:,.0f}" if b["seconds"] else "-",
        ]
        for b in meta["builds"]
    ]
    lines += table(["data", "builds", "sessions", "messages", "build time", "messages/s"], rows)
    total = sum(b["seconds"] for b in meta["builds"])
    steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in meta["steps_seconds"].items())
    lines += [
        "",
        f"Building data took {total:.0f} s of the run in all. Time per step: setup and migrate "
        f"{meta['setup_seconds']:.0f} s, {steps}.",
        "",
    ]
    return lines


def delete_section(results: dict) -> list[str]:
    delete = results.get("delete")
    if not delete:
        return []
    meta = results["meta"]
    lines = ["## 1. Delete against the physical limit", ""]
    rows = [
        [
            f"{r['n']:,}",
            ms(r["api"]["median"]),
            ms(r["raw"]["median"]),
            f"{r['paired_ratio']:.2f}",
            pairs_interval(r["api"]["times"], r["raw"]["times"]) or "-",
            f"{r['ratio']:.2f}",
            ", ".join(ms(t) for t in r["api"]["times"]),
            ", ".join(ms(t) for t in r["raw"]["times"]),
        ]
        for r in delete["rows"]
    ]
    lines += table(
        [
            "N messages",
            "API DELETE (median)",
            "bare SQL (median)",
            "ratio (median of pairs)",
            "its confidence interval (coverage ≥ 95%)",
            "ratio of medians",
            "API trials",
            "bare SQL trials",
        ],
        rows,
    )
    triggers = meta.get("message_triggers") or []
    if triggers:
        index_note = f"The message table has triggers ({', '.join(triggers)}), which both sides pay."
    elif meta["vendor"] == "sqlite":
        index_note = "The message table has no triggers and no FTS5 index, so neither side pays index maintenance beyond its B-trees."
    else:
        index_note = (
            "A PostgreSQL DELETE only marks rows dead: neither side touches the trigram GIN index, whose "
            "entries for the deleted text go at the next VACUUM (docs/deletion.md)."
        )
    after_commit = (
        " and, after the commit, the WAL checkpoint that keeps the delete permanent on disk"
        if meta["vendor"] == "sqlite"
        else ""
    )
    lines += [
        "",
        "The API side is the whole stack: Django's test `Client` with a real SimpleJWT bearer token "
        "(`RefreshToken.for_user(user).access_token`), middleware, DRF, the deletion service (row lock, set-based "
        f"DELETEs, the audit record){after_commit}. The baseline (`bench/baseline.py`) is the bare statements: "
        "`DELETE FROM sessions_app_message WHERE session_id=?; DELETE FROM sessions_app_session WHERE id=?` and the "
        "one-row decrement of the owner's session count, "
        f"in one transaction on the same connection. {index_note} The session is rebuilt (untimed) before every "
        "trial, the two sides alternate, and the database is brought to rest before each trial (SQLite: WAL "
        "checkpoint; PostgreSQL: VACUUM ANALYZE, then CHECKPOINT) so both start alike. The trials run in pairs, one of each side "
        "back to back (A B, B A, ...), and the target is judged on the median of the pairs' ratios: single trials "
        "on this shared machine move by about 20% from one minute to the next, which shifts the two medians "
        "apart but cancels within a pair. The ratio of the medians is shown beside it, and every trial in order. "
        "The interval is the median's distribution-free confidence interval (two order statistics of the pairs' "
        "ratios, with the coverage the binomial distribution gives them; it needs 6 pairs to reach 95%): it "
        "assumes nothing about the shape of the trials' spread.",
        "",
    ]
    first = delete["rows"][0]
    purge = delete["purge_after_smallest"]["median"]
    if meta["vendor"] == "sqlite":
        lines += [
            f"At small N the request's fixed cost dominates: at N = {first['n']:,} the API takes "
            f"{ms(first['api']['median'] - first['raw']['median'])} more than the bare SQL, of which "
            f"{ms(purge)} is the post-commit `PRAGMA wal_checkpoint(TRUNCATE)` "
            "(`sessions_app/storage.py`, which keeps deleted text out of the WAL: it copies the zeroed pages into "
            "the database file, syncs it and empties the log), measured alone after a bare delete of the same size; "
            "the bare SQL's commit does not checkpoint at that size (SQLite checkpoints on its own past 1,000 "
            "pages). The rest is the request (token, user row, session lookup, row lock, audit record). The "
            "target is set where the rows dominate.",
            "",
        ]
    else:
        lines += [
            f"At small N the request's fixed cost dominates (at N = {first['n']:,}: "
            f"{ms(first['api']['median'] - first['raw']['median'])} over the bare SQL): the token and the user's "
            "row, the session lookup, the row lock and the audit record. The target is set where the rows dominate.",
            "",
        ]
    memory = delete["memory"]
    api, raw, traced = memory["api"], memory["raw"], memory["api_tracemalloc"]
    reset = (
        "reset through /proc/self/clear_refs"
        if api["peak_reset"]
        else "not resettable here, so a lower bound"
    )
    lines += [
        f"**Memory.** One API delete of {delete['memory_n']:,} messages, run in a fresh process after a warm-up "
        f"(`bench/memprobe.py`): peak RSS (VmHWM, {reset}) grew **{api['rss_growth_kib'] / 1024:.2f} MB** over the "
        f"{api['rss_before_kib'] / 1024:.0f} MB the process held; `ru_maxrss` grew {api['maxrss_growth_kib'] / 1024:.2f} MB; "
        f"Python's own allocations peaked at {traced['traced_peak_kib'] / 1024:.2f} MB (tracemalloc, separate run). "
        f"The bare SQL delete in the same kind of process grew {raw['rss_growth_kib'] / 1024:.2f} MB. "
        f"Resident memory after against before the API delete, by kind: {kinds(api)}; after the bare SQL delete: "
        f"{kinds(raw)}.",
        "",
    ]
    if api.get("backend") and raw.get("backend"):
        backend, raw_backend = api["backend"], raw["backend"]
        backend_reset = (
            "its peak reset through clear_refs" if backend["peak_reset"] else "its peak not resettable, so a lower bound"
        )
        lines += [
            "On PostgreSQL the rows are deleted by the server's backend process for the connection, measured "
            f"alike ({backend_reset}, then VmHWM). Its own memory (anonymous, after against before) changed by "
            f"**{backend['rss_kinds_delta_kib']['RssAnon'] / 1024:+.2f} MB** for the API delete and "
            f"{raw_backend['rss_kinds_delta_kib']['RssAnon'] / 1024:+.2f} MB for the bare SQL. Its peak RSS grew "
            f"{backend['rss_growth_kib'] / 1024:.2f} MB and {raw_backend['rss_growth_kib'] / 1024:.2f} MB. By kind, "
            f"after against before: {kinds(backend)} (API); {kinds(raw_backend)} (bare SQL). The shared part is "
            "pages of `shared_buffers` the backend touched for the first time, which the server holds whatever "
            "process reads them.",
            "",
        ]
    by_n = delete.get("memory_by_n") or {}
    if len(by_n) >= 2:
        (n1, p1), (n2, p2) = sorted(by_n.items(), key=lambda kv: int(kv[0]))[-2:]
        n1, n2 = int(n1), int(n2)
        rows = [
            [
                f"{int(n):,}",
                f"{p['api']['rss_growth_kib'] / 1024:.2f} MB",
                f"{p['raw']['rss_growth_kib'] / 1024:.2f} MB",
            ]
            for n, p in sorted(by_n.items(), key=lambda kv: int(kv[0]))
        ]
        slope_api = (p2["api"]["rss_growth_kib"] - p1["api"]["rss_growth_kib"]) * 1024 / (n2 - n1)
        slope_raw = (p2["raw"]["rss_growth_kib"] - p1["raw"]["rss_growth_kib"]) * 1024 / (n2 - n1)
        lines += table(["N messages", "peak-RSS growth, API delete", "peak-RSS growth, bare SQL"], rows)
        lines += [
            "",
            f"The growth rises with N by about {slope_api:.0f} bytes per deleted message for the API and "
            f"{slope_raw:.0f} for the bare SQL, while Python's allocations stay flat (tracemalloc): it is SQLite's "
            "own working memory for the DELETE statement (its page cache, bounded by cache_size, and what it "
            "keeps per row while deleting), which the bare SQL pays alike. The service adds nothing that grows "
            "with N, but the bound is not independent of N: "
            + bound_note(p2["api"]["rss_growth_kib"] * 1024, slope_api, n2)
            if meta["vendor"] == "sqlite"
            else f"The growth changes with N by about {slope_api:.0f} bytes per deleted message for the API "
            f"({slope_raw:.0f} for the bare SQL); the rows are deleted by the database server, not in this process.",
            "",
        ]
    return lines


def bound_note(growth_bytes: float, slope: float, n: int) -> str:
    if slope <= 0:
        return "no growth with N was measured."
    reach = n + (5 * 2**20 - growth_bytes) / slope
    return (
        f"at this rate 5 MB is reached by a delete of about {max(reach, 0):,.0f} messages, bare SQL or not."
    )


def kinds(probe: dict) -> str:
    deltas = probe.get("rss_kinds_delta_kib") or {}
    labels = {
        "RssAnon": "heap (RssAnon)",
        "RssFile": "mapped files (RssFile)",
        "RssShmem": "shared memory (RssShmem)",
    }
    return ", ".join(f"{labels[k]} {v / 1024:+.2f} MB" for k, v in deltas.items()) or "n/a"


def store_section(results: dict) -> list[str]:
    store = results.get("store_size")
    if not store:
        return []

    def overhead(measured):
        return measured["api"]["median"] / measured["raw"]["median"]

    def row(m, measured):
        return [f"{m:,}", ms(measured["api"]["median"]), ms(measured["raw"]["median"]), f"{overhead(measured):.2f}"]

    overhead_small, overhead_big = overhead(store["small"]), overhead(store["big"])
    # The same bound as the target's: what the service adds may not grow by more than 30%.
    grows = "grows with the store" if overhead_big > 1.3 * overhead_small else "does not grow with the store"
    return [
        "## 2. Delete does not care how big the store is",
        "",
        *table(
            ["other sessions (10 messages each)", f"API DELETE of {store['n']:,} messages", "bare SQL", "API ÷ bare SQL"],
            [row(store["small_m"], store["small"]), row(store["big_m"], store["big"])],
        ),
        "",
        f"Ratio big/small: API {store['ratio']:.2f} (the target's figure), bare SQL {store['raw_ratio']:.2f}. The two "
        "stores cannot exist at once, so the small store's trials run first and the big store's after it has grown; "
        "whatever the database's state does between the two batches moves both sides, which is why the bare SQL's "
        f"ratio is shown beside the API's, and the API's cost over the bare SQL within each store "
        f"({overhead_small:.2f}, then {overhead_big:.2f}): that is what the service adds, and it {grows}. "
        "Both stores belong to the same user as the deleted session (the worst case for the owner-scoped "
        f"lookups). Growing the store from {store['small_m']:,} to {store['big_m']:,} sessions took "
        f"{store['grow_seconds']:.0f} s.",
        "",
        *store_vacuum(store),
        *store_plans(store),
    ]


def store_vacuum(store: dict) -> list[str]:
    """PostgreSQL only: the work a delete leaves to VACUUM, in each store."""
    if "vacuum" not in store["big"]:
        return []
    small, big = store["small"]["vacuum"], store["big"]["vacuum"]
    delete = store["big"]["api"]["median"]
    return [
        "On PostgreSQL a `DELETE` only marks its rows dead: their bytes, their TOAST and their entries in every "
        "index, the trigram index among them, stay until a `VACUUM` removes them (autovacuum's, in production; "
        "docs/deletion.md says what that means for permanence). So the store's size comes back here: after the API "
        f"deleted the same {store['n']:,}-message session, `VACUUM sessions_app_message` took {ms(small['median'])} "
        f"with {store['small_m']:,} other sessions and {ms(big['median'])} with {store['big_m']:,} "
        f"({big['median'] / small['median']:.1f}×; {big['median'] / delete:.1f}× the delete itself; trials "
        f"{', '.join(ms(t) for t in small['times'])} and {', '.join(ms(t) for t in big['times'])}). It runs in the "
        "background and takes no lock that stops reads or writes, but it is the larger part of what a delete "
        "costs the database: a vacuum with dead rows to remove reads each index of the table whole, however few "
        "they are. Autovacuum waits until dead rows pass a share of the table (20% by default), so one vacuum "
        "serves many deletes.",
        "",
    ]


def store_plans(store: dict) -> list[str]:
    """The bare DELETE's plan in each store (reports from before it was measured have none)."""
    if "plan" not in store["small"]:
        return []
    lines = ["The database's plan for the bare `DELETE` of the session's messages:", ""]
    for size in ("small", "big"):
        lines += [
            f"With {store[size + '_m']:,} other sessions:",
            "",
            "```",
            store[size]["plan"],
            "```",
            "",
        ]
    if "Seq Scan" in store["small"]["plan"] and "Seq Scan" not in store["big"]["plan"]:
        lines += [
            "With few other sessions the session is most of the message table, so the planner reads the whole "
            "table (including the space earlier trials freed, which VACUUM keeps for reuse) rather than the "
            "index; with many, it reads only the session's rows through the index. The API's DELETE is planned "
            "the same way, so both sides move alike between the stores.",
            "",
        ]
    return lines


def delete_against_pocketpaw(results: dict) -> list[tuple[int, float, float]]:
    """(N, this service's API delete, PocketPaw's delete_session) for each N both measured."""
    ours = {row["n"]: row["api"]["median"] for row in (results.get("delete") or {}).get("rows", [])}
    theirs = (results.get("pocketpaw") or {}).get("scaling", [])
    return [(point["n"], ours[point["n"]], point["median"]) for point in theirs if point["n"] in ours]


def pocketpaw_section(results: dict) -> list[str]:
    pocketpaw = results.get("pocketpaw")
    if not pocketpaw:
        return []
    lines = ["## 3. Against PocketPaw's own FileMemoryStore", ""]
    if "skipped" in pocketpaw:
        return lines + [f"**Skipped**: {pocketpaw['skipped']}", ""]
    rows = []
    for row in pocketpaw["rows"]:
        for op in ["delete", "rename", "list", "search_rare", "search_common"]:
            ours, theirs = row["ours"][op]["median"], row["theirs"][op]["median"]
            rows.append([f"{row['m']:,}", op, ms(ours), ms(theirs), f"{theirs / ours:.1f}"])
    lines += table(
        ["M sessions × 10 messages", "operation", "this service", "PocketPaw", "PocketPaw ÷ ours"], rows
    )
    scaling = pocketpaw["scaling"]
    memory = next((s["rss_growth_mb"] for s in reversed(scaling) if s.get("rss_growth_mb") is not None), None)
    lines += [
        "",
        f"`pocketpaw` {pocketpaw['version']} from PyPI in `bench/.venv-pocketpaw` ({pocketpaw['install']}), driven by "
        "`bench/pocketpaw_driver.py` in that environment. It writes each session in the store's own format (a JSON "
        "list per session, as `_save_session_entry` writes it; checked against a message saved through `save()`), "
        "builds `_index.json` with the store's `rebuild_session_index()`, and times `delete_session`, "
        "`update_session_title`, what PocketPaw's `GET /api/v1/sessions?limit=50` route does (load the index, sort "
        "by last activity, take 50) and `search_sessions(q, 20)`, all on one event loop. Session i holds the same "
        "texts in both stores; both find the rare word in the same sessions "
        f"({', '.join(str(i) for i in pocketpaw['rows'][-1]['found_rare'])}). This service is timed through its "
        "service layer: `services.session_delete`, `services.session_rename`, `selectors.session_page_for_user`, "
        "`selectors.session_search_for_user`; its database also holds every other store of the benchmark, "
        "PocketPaw's directory only its own sessions.",
        "",
        "Note the semantics differ: PocketPaw's search stops at the first 20 matching files in directory order, not the "
        "20 most recent sessions; its list sorts the whole index on every call.",
        "",
    ]
    if memory is not None:
        lines += [
            f"PocketPaw's delete reads and parses the whole session file: deleting its {scaling[-1]['n']:,}-message session "
            f"grew that process's peak RSS by {memory:.1f} MB.",
            "",
        ]
    by_n = delete_against_pocketpaw(results)
    if by_n:
        raw = {row["n"]: row["raw"]["median"] for row in results["delete"]["rows"]}
        lines += [
            "Deleting one session of N messages (the points of the delete-scaling plot): this service's "
            "`DELETE /api/sessions/{id}` through the whole stack (section 1), the bare SQL beside it, and PocketPaw's "
            f"`delete_session` in a store of {scaling[0]['others']:,} other sessions:",
            "",
        ]
        lines += table(
            ["N messages", "this service (API)", "bare SQL", "PocketPaw", "PocketPaw ÷ ours"],
            [[f"{n:,}", ms(ours), ms(raw[n]), ms(theirs), f"{theirs / ours:.2f}"] for n, ours, theirs in by_n],
        )
        slower = [n for n, ours, theirs in by_n if theirs < ours]
        close = [n for n, ours, theirs in by_n if ours <= theirs < 1.2 * ours]
        if slower:
            where = ", ".join(f"{n:,}" for n in slower)
            if close:
                where += f" (and within 20%, this machine's spread, at N = {', '.join(f'{n:,}' for n in close)})"
            why = (
                "with `secure_delete` SQLite overwrites every page the rows freed with zeros (and the service then "
                "checkpoints the log into the database file)"
                if results["meta"]["vendor"] == "sqlite"
                else "the database writes every row's removal to its log"
            )
            lines += [
                "",
                f"PocketPaw's store is faster at N = {where}. Its delete unlinks one file and leaves the file's "
                "bytes on the disk's free blocks; here the bare SQL that removes the same rows takes "
                f"{', '.join(ms(raw[n]) for n in slower)} by itself: {why}, so that no byte of the session is "
                "left behind.",
            ]
        lines.append("")
    return lines


def list_section(results: dict) -> list[str]:
    listing = results.get("list")
    if not listing:
        return []
    parts = listing["parts"]
    lines = [
        "## 4. List",
        "",
        f"`GET /api/sessions?limit=50` for a user with {listing['sessions']:,} sessions: {ms(listing['api']['median'])} "
        f"in {len(listing['queries'])} queries; one indexed `SELECT ... WHERE owner_id=? ORDER BY updated_at DESC, id DESC "
        f"LIMIT 50`: {ms(listing['raw']['median'])}. Ratio {listing['ratio']:.1f} (target ≤ 3).",
        "",
        "Where the time goes (medians; the two lists and the bare SELECT in the same interleaved trials, the parts separately):",
        "",
    ]
    rows = [
        [f"the whole request, user with {listing['sessions']:,} sessions", ms(listing["api"]["median"])],
        [
            f"the same request for a user with {PAGE_SIZE} sessions (all but what grows with the store)",
            ms(parts["floor_api"]),
        ],
        ["`total` alone: the owner's `SessionTotal` row (the page's statement reads it in a subquery)", ms(parts["total"])],
        ["(for comparison) `COUNT(*)` of the user's sessions, what `total` cost before", ms(parts["count_orm"])],
        ["the page of 50 with its total, through the selector (model instances)", ms(parts["page_orm"])],
        ["serialising the 50 sessions (`SessionListItemSerializer(many=True).data`)", ms(parts["serialize"])],
        [
            "bearer-token check (`JWTAuthentication.authenticate`: signature, claims, the user's row)",
            ms(parts["authenticate"]),
        ],
        [
            "`GET /api/health` through the same client (no token, one `SELECT 1`): Django's floor",
            ms(parts["health_api"]),
        ],
        ["the bare indexed SELECT (baseline)", ms(listing["raw"]["median"])],
    ]
    lines += table(["part", "median"], rows)
    if "last_page" in listing:
        last = listing["last_page"]
        lines += [
            "",
            f"Paging is by offset (PocketPaw's list takes only a limit): the last page, `offset={last['offset']:,}`, "
            f"took {ms(last['median'])}, {last['median'] / listing['api']['median']:.1f}× the first, timed in the "
            "same interleaved trials. The database walks the owner's index past every session before the page; "
            "a client paging through everything pays that for each page.",
        ]
    lines += in_request_table(listing)
    lines += ["", "The queries of one request:", ""]
    lines += [f"{i + 1}. `{q[:300]}`" for i, q in enumerate(listing["queries"])]
    lines += ["", "Plans: the page, the total, and the `COUNT(*)` it replaced:", ""]
    lines += code_block(listing["plan_page"]) + code_block(listing["plan_total"]) + code_block(listing["plan_count"])
    lines += ["", "<details><summary>cProfile of 20 list requests (own time)</summary>", ""]
    lines += code_block(listing["profile"]) + ["", "</details>", ""]
    return lines


PAGE_SIZE = 50


def in_request_table(listing: dict) -> list[str]:
    """The same request timed from inside (run.in_request_breakdown): the parts add up to the whole."""
    inside = listing.get("in_request")
    if not inside:
        return []
    rows = [
        ["the test client's request, in all", ms(inside["client"])],
        ["outside Django's handler (the test client building the request, reading the response)",
         ms(inside["client"] - inside["handler"])],
        ["Django's middleware and URL routing (handler minus DRF's dispatch)", ms(inside["handler"] - inside["dispatch"])],
        ["DRF: bearer-token check (signature, claims, the user's row)", ms(inside["authenticate"])],
        ["DRF: permissions and throttling (the rest of `initial`)", ms(inside["initial"] - inside["authenticate"])],
        ["the page of 50 with its total (selector, one statement)", ms(inside["selector"])],
        ["serialising the 50 sessions", ms(inside["serialize"])],
        ["the rest of the view (query parameters, building the response)",
         ms(inside["view"] - inside["selector"] - inside["serialize"])],
        ["rendering the JSON", ms(inside["render"])],
        ["the rest of DRF's dispatch (request wrapping, content negotiation, headers)",
         ms(inside["dispatch"] - inside["initial"] - inside["view"] - inside["render"])],
    ]
    return [
        "",
        "The same request timed from inside (each part's time summed within a request, then the median over "
        "requests; medians of parts need not add up exactly). The parts above, timed in loops of their own, "
        "run warmer than inside a request and add up to less than it:",
        "",
        *table(["part, inside the request", "median"], rows),
    ]


# The search row run as a user holding a small share of the messages (shown, not judged).
MINORITY_SEARCH = "rare, minority user"


def minority_search(search: dict) -> dict | None:
    return next((r for r in search["rows"] if r["word"] == MINORITY_SEARCH), None)


def search_row_label(row: dict) -> str:
    if "user_messages" not in row or row["word"] in ("rare", "common"):
        return f"{row['word']} word"
    return f"{row['word']} ({row['user_messages']:,} messages)"


def search_section(results: dict) -> list[str]:
    search = results.get("search")
    if not search:
        return []
    lines = [
        "## 5. Search",
        "",
        f"{search['messages']:,} messages in the database, {search['owner_messages']:,} of them in the searching "
        f"user's {search['owner_sessions']:,} sessions. Baselines: the newest-first `EXISTS` scan "
        "(`Session.objects.filter(owner=u).filter(Exists(Message.objects.filter(session=OuterRef('pk'), "
        "content__icontains=q))).order_by('-updated_at', '-id')[:20]`, the service's own first query, which stops "
        "at the 20th match) and the plain scan, the issue's baseline: `WITH matching AS MATERIALIZED (<the SQL "
        "of Message.objects.filter(content__icontains=q).values('session_id')>) SELECT key FROM "
        "sessions_app_session WHERE owner_id = ? AND id IN (SELECT session_id FROM matching) ORDER BY "
        "updated_at DESC, id DESC LIMIT 20`, every message read once, then the user's newest 20 of the sessions "
        "found (materialized, or PostgreSQL plans it as the newest-first walk). Both are complete queries, timed "
        "whole, and the 20 sessions the API answers are compared with both.",
        "",
    ]
    rows = [
        [
            r["word"],
            f"`{r['q']}`",
            f"{r['user_messages']:,}" if "user_messages" in r else f"{search['owner_messages']:,}",
            r["found"],
            "yes" if r["same"] else "**NO**",
            ms(r["api"]["median"]),
            ms(r["selector"]["median"]),
            ms(r["exists"]["median"]),
            f"{r['speedup_exists']:.2f}",
            ms(r["plain"]["median"]),
            f"{r['speedup_plain']:.2f}",
        ]
        for r in search["rows"]
    ]
    header = [
        "word",
        "q",
        "the user's messages",
        "sessions found",
        "same ids",
        "API",
        "its selector alone",
        "EXISTS scan",
        "speed-up",
        "plain scan",
        "speed-up",
    ]
    lines += table(header, rows)
    common = next(r for r in search["rows"] if r["word"] == "common")
    lines += [
        "",
        "The EXISTS scan is the service's own first query, so its speed-up is shown, not judged: for the common "
        f"word it stops after the newest 20 matching sessions ({ms(common['exists']['median'])}), and the "
        "request adds the fixed cost of any request (section 4) and a second query that fetches each found "
        f"session's first match (the selector alone, without HTTP: {ms(common['selector']['median'])}).",
    ]
    minority = minority_search(search)
    if minority:
        lines += [
            "",
            f"The last row searches the rare word as another user, who holds {minority['user_messages']:,} of the "
            f"{search['messages']:,} messages: the service walks that user's sessions only, while the plain scan "
            "still reads every message. It is shown, not judged: the targets are set for the user with the big "
            "store, the worst case for the walk.",
        ]
    if search.get("baseline_plan"):
        lines += [
            "",
            "On PostgreSQL the ORM's `icontains` is `UPPER(content) LIKE UPPER(q)`, which the service's `pg_trgm` "
            "GIN index serves; the baselines are run with `SET LOCAL enable_bitmapscan = off` (the only way the "
            "planner can use a GIN index) so that they are the scans they stand for. The baseline's plan:",
            "",
        ] + code_block(search["baseline_plan"])
    if search.get("plain_plan"):
        lines += ["", "Plan of the plain scan (rare word):", ""] + code_block(search["plain_plan"])
    lines += ["", "Plan of the service's search query (rare word):", ""] + code_block(search["plan"])
    lines += ["", "<details><summary>cProfile of one rare-word search request (own time)</summary>", ""]
    lines += code_block(search["profile_rare"]) + ["", "</details>", ""]
    return lines


def export_memory_bound_mb(reading: dict) -> float:
    """What an export of the longest messages holds at most: the rows of one fetch (each is
    let go before the next is read), one character a byte."""
    rows_held = min(reading["chunk_rows"], reading["long_n"])
    return rows_held * reading["longest"] / 1e6


def reading_section(results: dict) -> list[str]:
    reading = results.get("reading")
    if not reading:
        return []
    history, export = reading["history"], reading["export"]
    big_n, limit = reading["big_n"], reading["history_limit"]
    memory = reading["export_memory"]
    memory_rows = [
        [label, f"{memory[name]['rss_growth_kib'] / 1024:.2f} MB", kinds(memory[name])]
        for name, label in [
            ("mid", f"{reading['mid_n']:,} messages"),
            ("big", f"{big_n:,} messages"),
            ("long", f"{reading['long_n']:,} messages of {reading['longest']:,} characters"),
        ]
    ]
    history_rows = [
        [f"the API, session of {big_n:,} messages", ms(history["big"]["median"])],
        [f"the API, session of {reading['small_n']:,} messages", ms(history["small"]["median"])],
        [f"bare `SELECT ... ORDER BY created_at DESC, id DESC LIMIT {limit}`, {big_n:,} messages", ms(history["raw"]["median"])],
    ]
    export_rows = [
        [
            label,
            ms(export[name]["median"]),
            f"{big_n / export[name]['median']:,.0f}",
            f"{reading['export_bytes'][name] / 1e6:.1f} MB" if name in reading["export_bytes"] else "-",
        ]
        for name, label in [
            ("json", "`GET /api/sessions/{id}/export?format=json`"),
            ("md", "`GET /api/sessions/{id}/export?format=md`"),
            ("raw", "bare `SELECT` of the same rows in export order, one cursor, `fetchmany(2000)`"),
        ]
    ]
    return [
        "## 7. Reading a long session: history and export",
        "",
        "Not among the issue's figures: what a reader of a big session waits for, and whether it depends on "
        "the session's size. History is one page of the latest messages (the API's largest page, "
        f"`limit={limit}`); the export streams every message.",
        "",
        *table(["history page", "median"], history_rows),
        "",
        *table(["export", "median", "messages/s", "size"], export_rows),
        "",
        f"Memory of a fresh process serving one JSON export, read to its end (`bench/memprobe.py --how export`). "
        f"The export fetches {reading['chunk_rows']} rows at a time (`selectors.MESSAGE_CHUNK_ROWS`), so what it "
        "holds at once depends on how long the messages are, not on how many there are. Each fetch is a query "
        "of its own, resumed after the last message it read, so no read transaction spans the download (on "
        "SQLite a delete's purge waits for older snapshots), and its rows are let go before the next is read: "
        f"{export_memory_bound_mb(reading):.0f} MB of text for messages of the longest allowed length; on "
        "PostgreSQL the driver's copy of the fetched rows comes on top. That figure follows from the fetch size, "
        "a choice (fewer rows per fetch, more round trips to PostgreSQL), so it is shown, not judged; what is "
        "judged is that the export's memory does not grow with the number of messages.",
        "",
        *table(["session exported", "peak-RSS growth", "where"], memory_rows),
        "",
        "<details><summary>cProfile of one JSON export (own time)</summary>",
        "",
        *code_block(reading["export_profile"]),
        "",
        "</details>",
        "",
    ]


def writing_section(results: dict) -> list[str]:
    writing = results.get("writing")
    if not writing:
        return []
    times, beside = writing["times"], writing["beside_delete"]
    rows = [
        [f"append to a session of {writing['big_n']:,} messages", ms(times["append_big"]["median"])],
        [f"append to a session of {writing['small_n']:,} messages", ms(times["append_small"]["median"])],
        *[
            [label, ms(times[name]["median"])]
            for name, label in [
                ("append_keyed", f"append with a new `Idempotency-Key`, session of {writing['big_n']:,} messages"),
                ("append_replayed", "the same append sent again with its key: the stored message answered"),
            ]
            if name in times
        ],
        [
            "bare `INSERT` of the message and `UPDATE` of the session's counter, activity time and preview, "
            "one transaction",
            ms(times["append_raw"]["median"]),
        ],
        [f"create, owner of {writing['store_sessions']:,} sessions", ms(times["create_big"]["median"])],
        [f"create, owner of {writing['floor_sessions']:,} sessions", ms(times["create_small"]["median"])],
    ]
    return [
        "## 8. Writing: appending to a long session, creating in a big store",
        "",
        "Not among the issue's figures: whether a write costs more as a session or a store grows. An append "
        "writes the message and, in the same transaction, the session's message counter, activity time and "
        "preview (and its automatic title, from the first user message); a create locks its owner's row (so "
        "that it cannot race the account's deletion), writes the session and adds "
        "one to its owner's `SessionTotal`. Neither counts anything: an append reads none of the session's other "
        "messages (the automatic title looks for an earlier user message only while the session has no title "
        "yet), a create none of the owner's other sessions, so the target is that the long session and the big store cost what the small ones do. The appends go "
        "to figure 7's sessions, the creates to figure 2's user and figure 4's user with 50 sessions; all "
        f"through the test client with a bearer token, {len(times['append_big']['times'])} interleaved trials "
        f"each, with a message of the corpus ({writing['message_chars']:,} characters).",
        "",
        *table(["write", "median"], rows),
        "",
        "**Beside a big delete.** A second user appends to a session of its own in a loop, on a connection of "
        f"its own (a thread of this process), for {ms(beside['quiet_seconds'])} before and after the API deletes "
        f"figure 7's biggest session ({beside['messages']:,} messages). On SQLite the delete's one transaction "
        "holds the database's write lock to its commit, so every append that arrives meanwhile waits for it "
        "(within the busy timeout); on PostgreSQL the delete locks only its own rows.",
        "",
        *table(
            ["", ""],
            [
                [f"the delete ({beside['messages']:,} messages)", ms(beside["delete_seconds"])],
                [
                    f"the neighbour's appends outside it ({beside['alone_count']})",
                    f"median {ms(beside['alone_median'])}",
                ],
                [
                    f"the neighbour's appends overlapping it ({beside['during_count']})",
                    f"slowest {ms(beside['during_max'])}",
                ],
            ],
        ),
        "",
    ]


def delete_all_section(results: dict) -> list[str]:
    delete_all = results.get("delete_all")
    if not delete_all:
        return []
    api, raw = delete_all["api"], delete_all["raw"]
    plan = delete_all.get("raw_plan", "(not recorded in this run)")
    count, per_session = delete_all["sessions"], delete_all["messages_per_session"]
    return [
        "## 9. Deleting all of a user's sessions at once",
        "",
        "Not among the issue's figures: many small sessions in one delete, as `POST /api/sessions/bulk-delete` "
        "with `{\"all\": true}`, the admin's bulk delete, `delete_session --retention` and deleting an account do "
        f"it. A user with {count:,} sessions of {per_session} messages deletes them all through the API; the "
        "baseline removes the same rows with two bare statements (`DELETE ... WHERE session_id IN (SELECT id "
        "... WHERE owner_id = ?)`, then the sessions) in one transaction. The service does more than the "
        "baseline by design: it locks the sessions in a stable order, writes a `DeletionRecord` per session "
        "(copied by the database from the session rows, one `INSERT ... SELECT` per batch of 500), lowers the "
        "owner's `SessionTotal` and, on SQLite, checkpoints the WAL after the commit. A new user is built "
        "(untimed) for every trial, and the trials run in pairs.",
        "",
        *table(
            ["", "median", "trials"],
            [
                ["the API", ms(api["median"]), ", ".join(ms(t) for t in api["times"])],
                ["bare SQL", ms(raw["median"]), ", ".join(ms(t) for t in raw["times"])],
            ],
        ),
        "",
        "The plan the database chose for the baseline's message `DELETE` (for the same data, not run):",
        "",
        *code_block(plan),
        "",
        *(
            [
                "Here the database chose to read the whole message table and join it to the owner's sessions, "
                "so the one bare statement is slower than the service's batches of ids, each of which the "
                "`(session_id, created_at, id)` index answers.",
                "",
            ]
            if "Seq Scan on sessions_app_message" in plan
            else []
        ),
        *delete_all_memory_lines(delete_all),
    ]


def delete_all_memory(delete_all: dict) -> list[tuple[int, dict]]:
    """The memory probes by number of sessions (JSON keeps the numbers as strings)."""
    return sorted((int(sessions), probe) for sessions, probe in delete_all.get("memory", {}).items())


def delete_all_memory_lines(delete_all: dict) -> list[str]:
    probes = delete_all_memory(delete_all)
    if not probes:
        return []
    return [
        "**Memory.** A fresh process (`bench/memprobe.py --how delete-all`) warms the path up on another user, "
        "resets its peak-RSS mark and deletes all of a user's sessions (of 1 message each, so that what could "
        "grow is what is held per session). `sessions_delete` reads every selected id before its first DELETE, "
        "since it locks them all in id order; it keeps them in an array of 8-byte integers and a count per "
        "owner, so a million sessions cost about 8 MB, not the ~90 MB a Python tuple per session would.",
        "",
        *table(
            ["sessions deleted", "peak-RSS growth (VmHWM)", "where it went", "time"],
            [
                [f"{sessions:,}", f"{probe['rss_growth_kib'] / 1024:.2f} MB", kinds(probe), ms(probe["seconds"])]
                for sessions, probe in probes
            ],
        ),
        "",
    ]


def run_threads(run: dict) -> int:
    # Runs saved before the thread count was recorded ran make serve's default of then: 4.
    return run.get("threads", 4)


def threads_label(count: int) -> str:
    return f"{count} thread{'s' if count > 1 else ''}"


def throughput_run_note(name: str, run: dict) -> str:
    notes = []
    if name == "per_request":
        notes.append(f"DATABASE_CONN_MAX_AGE={run['conn_max_age']}")
    if run.get("exported_messages"):
        notes.append(f"and 1 downloading a {run['exported_messages']:,}-message export over and over")
    return f" ({'; '.join(notes)})" if notes else ""


THROUGHPUT_RUN_TITLES = {
    "default": "make serve's settings",
    "per_request": "A new database connection per request",
    "threads_1": "One thread per worker (GUNICORN_THREADS=1: gunicorn's sync worker)",
    "export": "make serve's settings, with one more client downloading a long session's export over and over",
    "export_threads_1": "The same with one thread per worker",
}


def thread_comparison(throughput: dict) -> list[str]:
    """What the runs say about make serve's thread count, judged from their numbers."""
    if "default" not in throughput or "threads_1" not in throughput:
        return []
    threaded, single = throughput["default"], throughput["threads_1"]
    faster = single["rps"] > threaded["rps"] and single["p99_ms"] < threaded["p99_ms"]
    verdict = (
        "one thread per worker answered more requests with a lower p99"
        if faster
        else "one thread per worker did not answer more requests with a lower p99"
    )
    return [
        f"Against make serve's {run_threads(threaded)} threads per worker ({threaded['rps']:.0f} requests/s, "
        f"p99 {threaded['p99_ms']:.0f} ms), {verdict} ({single['rps']:.0f} requests/s, p99 "
        f"{single['p99_ms']:.0f} ms). These clients are fast and on loopback. The sync worker that one thread "
        "means serves one request at a time and closes each connection after it: a download slower than "
        "`GUNICORN_TIMEOUT` (30 s) is cut off, and two clients sending half a request hold both workers. "
        "Threads are therefore make serve's default; behind a buffering proxy (nginx), which absorbs slow "
        "clients, `GUNICORN_THREADS=1` is worth setting where these runs say so.",
        "",
    ]


def throughput_section(results: dict) -> list[str]:
    throughput = results.get("throughput")
    if not throughput:
        return []
    default_threads = run_threads(throughput["default"]) if "default" in throughput else 4
    lines = [
        "## 6. Throughput under gunicorn",
        "",
        "`gunicorn -c python:pocketpaw.gunicorn_conf pocketpaw.wsgi` (what `make serve` runs: 2 workers × "
        f"{threads_label(default_threads)}, DEBUG off, the JSON request log on) on "
        "127.0.0.1, and in the benchmark's process 8 client threads, one user each (every user holding sessions of "
        "their own), each on an `http.client` connection (kept alive where the server keeps it) looping create, 3 "
        "appends (50-800 characters), "
        "list (limit 50), history, delete. The clients share the machine's 2 CPUs with the server.",
        "",
        *thread_comparison(throughput),
    ]
    for name, run in throughput.items():
        title = THROUGHPUT_RUN_TITLES.get(name, name)
        exports = run.get("exports")
        export_note = (
            f" The exporting client downloaded {exports['requests']:,} exports of "
            f"{run['exported_messages']:,} messages, {exports['median_ms']:,.0f} ms each (median), not counted "
            "in the requests above."
            if exports
            else ""
        )
        lines += [
            f"**{title}** ({threads_label(run_threads(run))} per worker, "
            f"DATABASE_CONN_MAX_AGE={run['conn_max_age']}): {run['requests']:,} requests in "
            f"{run['seconds']:.1f} s = **{run['rps']:.0f} requests/s**, p50 {run['p50_ms']:.1f} ms, "
            f"p99 {run['p99_ms']:.1f} ms, {run['errors']} errors; the machine's CPUs were {run['cpu_busy']:.0%} busy "
            f"(server and clients together).{export_note}",
            "",
        ]
        rows = [
            [
                op,
                f"{v['requests']:,}",
                f"{v['p50_ms']:.1f} ms",
                f"{v['p99_ms']:.1f} ms",
                f"{v['max_ms']:.1f} ms",
            ]
            for op, v in sorted(
                run["per_op"].items(),
                key=lambda kv: OPERATIONS.index(kv[0]),
            )
        ]
        lines += table(["operation", "requests", "p50", "p99", "max"], rows)
        workers = ", ".join(
            f"{a['rss_mb']:.0f} → {b['rss_mb']:.0f} MB (peak {b['peak_mb']:.0f})"
            for a, b in zip(run["workers_before"], run["workers_after"], strict=False)
        )
        lines += ["", f"Worker RSS before → after the load: {workers}.", ""]
        if run["errors"]:
            lines += [f"Errors, first ones: {run['error_samples']}", ""]
    return lines + open_loop_lines(results.get("open_loop"))


OPERATIONS = ["create", "append", "list", "history", "delete"]


def open_loop_lines(runs: list[dict] | None) -> list[str]:
    if not runs:
        return []
    count = runs[0]["conversations"]
    lines = [
        "**Open loop** (the same server configuration as the first run, fresh, after an untimed burst of "
        "conversations, twice its threads, all at once, so that each thread has opened its database "
        "connection). The loops above send a request only when the last one is answered, so a slow server "
        "slows its own load down and queueing never shows in their latencies. Here "
        f"{count} conversations (the same create, 3 appends, list, history, delete, each on a new connection) "
        "arrive at random (a Poisson process, seeded) at an average rate, a share of the first run's "
        f"requests per second, handed to {runs[0]['clients']} client threads; a conversation's first request "
        "is timed from the moment it was due, so waiting for a client thread counts against the answer (the "
        "latest start is shown, with the most conversations in flight at once). A share is of the closed "
        "loop's pace, not of the server's capacity: each conversation here also opens a connection, which "
        "`create`'s times include. With "
        f"{count} of each route per rate, the per-route columns show the median and the maximum; the p99 is "
        "over all requests of the rate. At the lowest rate the server is mostly idle, so the medians there are "
        "each route over real HTTP, one request at a time.",
        "",
    ]
    rows = [
        [
            f"{run['share']:.0%}",
            f"{run['offered_rps']:.0f}",
            f"{run['achieved_rps']:.0f}",
            f"{run['requests']:,}",
            f"{run['p50_ms']:.1f} ms",
            f"{run['p99_ms']:.1f} ms",
            f"{run['max_ms']:.1f} ms",
            f"{run['started_late_max_ms']:.1f} ms",
            f"{run['peak_in_flight']} of {run['clients']}",
            f"{run['generator_cores']:.2f}",
            *(f"{run['per_op'][op]['p50_ms']:.1f} / {run['per_op'][op]['max_ms']:.1f}" for op in OPERATIONS),
            run["errors"],
            f"{run['cpu_busy']:.0%}",
        ]
        for run in runs
    ]
    lines += table(
        [
            "share",
            "offered req/s",
            "achieved req/s",
            "requests",
            "p50",
            "p99",
            "max",
            "latest start",
            "most in flight",
            "generator's CPU (cores)",
            *(f"{op} median / max (ms)" for op in OPERATIONS),
            "errors",
            "CPUs busy",
        ],
        rows,
    )
    return [*lines, ""]


# --- the plot ---------------------------------------------------------------------------------


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = results["meta"]
    figure, axes = plt.subplots(figsize=(7.5, 5))
    delete = results.get("delete")
    if delete:
        ns = [r["n"] for r in delete["rows"]]
        axes.plot(
            ns,
            [r["api"]["median"] * 1000 for r in delete["rows"]],
            "o-",
            label="this service: DELETE /api/sessions/{id}",
        )
        axes.plot(
            ns,
            [r["raw"]["median"] * 1000 for r in delete["rows"]],
            "s--",
            label="bare SQL DELETEs (same rows, same DB)",
        )
    pocketpaw = results.get("pocketpaw") or {}
    if pocketpaw.get("scaling"):
        points = pocketpaw["scaling"]
        axes.plot(
            [p["n"] for p in points],
            [p["median"] * 1000 for p in points],
            "^:",
            label=f"PocketPaw {pocketpaw['version']} FileMemoryStore.delete_session "
            f"(store of {points[0]['others']:,} other sessions)",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("messages in the deleted session (N)")
    axes.set_ylabel("delete time, median (ms)")
    axes.set_title(f"Delete time against session size ({database_line(meta)}, {meta['nproc']} CPUs)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

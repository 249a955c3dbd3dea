#!/usr/bin/env python3
"""Turns bench/run's results into bench/README.md and its plots (gnuplot, SVG).

  report.py --results build/bench-results --out bench

Inputs in --results: throughput.json (Google Benchmark, repetitions with aggregates), paired.jsonl (bench/run's
paired rounds of floor, strata-100 and hand-100; optional), memory.json, compile-time.txt (bench/compile-time),
clang-time-trace-N.json (optional), live.json, machine.txt (bench/run).
Every ratio is computed from one run of the throughput benchmark (medians of the repetitions), so the
contenders are compared on the same packets, the same machine state, side by side; the goals against the
floor and the hand-written classifier from the paired rounds (the median of their per-round ratios).
"""
import argparse
import json
import statistics
import os
import re
import shutil
import subprocess

# ---- inputs --------------------------------------------------------------------------------------------


def load_throughput(path):
    data = json.load(open(path))
    rows = {}  # (workload, contender) -> dict
    for b in data["benchmarks"]:
        name = b.get("run_name", b["name"])
        if "/" not in name:
            continue
        wl, who = name.split("/", 1)
        r = rows.setdefault((wl, who), {"cpu": [], "packets": b.get("packets", 0)})
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                r["median"] = b["cpu_time"] * unit
            if b.get("aggregate_name") == "cv":
                r["cv"] = b["cpu_time"]
        else:
            r["cpu"].append(b["cpu_time"] * unit)
    for r in rows.values():
        if "median" not in r and r["cpu"]:
            s = sorted(r["cpu"])
            r["median"] = s[len(s) // 2]
        r["ns"] = r["median"] / r["packets"] * 1e9 if r.get("packets") else float("nan")
    return data.get("context", {}), rows


def load_paired(path):
    """bench/run's paired rounds: one {"mix/floor": cpu time per replay, ...} per line (one time unit per line)."""
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip()]


def paired_ratio(rounds, w, a, b):
    """The median over the paired rounds of time(a) / time(b) on workload w, its range, and the round count."""
    rs = [r[f"{w}/{a}"] / r[f"{w}/{b}"] for r in rounds if r.get(f"{w}/{a}") and r.get(f"{w}/{b}")]
    return (statistics.median(rs), min(rs), max(rs), len(rs)) if rs else None


def load_compile_time(path):
    out = {}  # (compiler, n) -> (wall, cpu, mb)
    if not os.path.exists(path):
        return out
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[1].isdigit() and f[2] != "-":
            out[(f[0], int(f[1]))] = (float(f[2]), float(f[3]), int(f[4]))
        elif len(f) >= 4 and f[1].isdigit() and f[2] == "-":
            out[(f[0], int(f[1]))] = None
    return out


def time_trace_summary(results):
    traces = sorted(f for f in os.listdir(results) if f.startswith("clang-time-trace-") and f.endswith(".json"))
    if not traces:
        return None, [], []
    path = os.path.join(results, traces[-1])
    n = int(re.findall(r"\d+", traces[-1])[0])
    events = json.load(open(path))["traceEvents"]
    totals = sorted(((e["name"], e["dur"] / 1e6) for e in events if e.get("name", "").startswith("Total ")),
                    key=lambda x: -x[1])
    details = sorted(((e["name"], e.get("args", {}).get("detail", ""), e["dur"] / 1e6) for e in events
                      if e.get("ph") == "X" and not e.get("name", "").startswith("Total ")
                      and e.get("name") in ("InstantiateFunction", "InstantiateClass", "CodeGen Function",
                                            "OptFunction", "RunPass", "ParseClass", "Source", "EvaluateAsConstantExpr",
                                            "EvaluateAsRValue", "EvaluateAsInitializer")),
                     key=lambda x: -x[2])
    return n, totals[:12], details[:10]


# ---- formatting -----------------------------------------------------------------------------------------


def fmt(x, digits=1):
    return "–" if x is None or x != x else f"{x:.{digits}f}"


def ratio(a, b):
    return a / b if a and b and a == a and b == b else None


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


DESCRIPTIONS = {
    "floor": "parse + direction + flows + path, **empty policy** (`strata::policy()`): the practical limit",
    "floor-batch": "the floor through the engine's batch form (`classify(span, sink)`, 256 frames per call: the "
                   "headers of the frame 8 ahead requested while one is classified); same records",
    "strata-10": "strata engine, generated 10-filter policy",
    "strata-100": "strata engine, generated 100-filter policy",
    "strata-1000": "strata engine, generated 1000-filter policy",
    "hand-100": "hand-written if/else classifier of the 100-filter policy, in the same engine",
    "runtime-10": "run-time engine (filters in `std::vector`s, a loop), 10 filters, in the same engine",
    "runtime-100": "run-time engine, 100 filters, in the same engine",
    "runtime-1000": "run-time engine, 1000 filters, in the same engine",
    "strata-s10": "strata engine, stateless block list s10 (10 5-tuple rules)",
    "strata-s100": "strata engine, stateless block list s100 (100 5-tuple rules)",
    "strata-s100-batch": "strata engine on s100 through the batch form (as `floor-batch`); same records",
    "strata-s10-pipeline": "strata stateless (`strata::stateless<P>`, one frame per call): parse + direction + "
                           "compiled pipeline, no flows (s10)",
    "strata-s100-pipeline": "strata stateless (`strata::stateless<P>`, one frame per call): parse + direction + "
                            "compiled pipeline, no flows (s100)",
    "strata-s10-pipeline-batch": "the same in batches (`stateless<P>::classify(span, out)`, 256 frames per call, "
                                 "headers of the frame 8 ahead prefetched) (s10)",
    "strata-s100-pipeline-batch": "the same in batches (`stateless<P>::classify(span, out)`, 256 frames per call, "
                                  "headers of the frame 8 ahead prefetched) (s100)",
    "bpf-s10": "libpcap `bpf_filter` on the s10 expression (pcap_compile, optimized)",
    "bpf-s100": "libpcap `bpf_filter` on the s100 expression, one frame per call (what a libpcap user calls; "
                "libpcap has no batch form)",
    "strata-1000-pipeline": "strata stateless: parse + direction + compiled pipeline of p1000, no flows",
    "strata-1000-pipeline-batch": "the same in batches (`stateless<P>::classify(span, out)`, 256 frames per call, "
                                  "headers of the frame 8 ahead prefetched) (p1000)",
    "rte_acl-1000": "DPDK `rte_acl_classify`, one key at a time (parse + direction + key + classify)",
    "rte_acl-1000-batch64": "DPDK `rte_acl_classify`, keys in batches of 64 per direction",
}
ORDER = list(DESCRIPTIONS)


def svg_plots(out_dir, rows, workloads, ct):
    gp = shutil.which("gnuplot")
    if not gp:
        return []
    made = []
    tmp = os.path.join(out_dir, ".plotdata")
    os.makedirs(tmp, exist_ok=True)
    # throughput per contender (ns per packet, both workloads)
    names = [n for n in ORDER if any((w, n) in rows for w in workloads)]
    with open(os.path.join(tmp, "tp.dat"), "w") as f:
        for n in names:
            f.write(f'"{n}" ' + " ".join(fmt(rows.get((w, n), {}).get("ns"), 2) if (w, n) in rows else "NaN"
                                       for w in workloads) + "\n")
    plots = " , ".join(f'"{tmp}/tp.dat" using {i + 2}:xtic(1) title "{w} workload"' for i, w in enumerate(workloads))
    script = f"""
set terminal svg size 1000,520 dynamic font "sans,11" background "white"
set output "{out_dir}/throughput.svg"
set title "Time per packet by contender (lower is better; median of the repetitions, one run)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "ns per packet"
set xtics rotate by -40 scale 0
set grid ytics
set key top left
plot {plots}
"""
    subprocess.run([gp], input=script, text=True, check=True)
    made.append("throughput.svg")
    # compile time vs filter count
    if not any(v for v in ct.values()):
        shutil.rmtree(tmp, ignore_errors=True)
        return made
    with open(os.path.join(tmp, "ct.dat"), "w") as f:
        for n in sorted({k[1] for k in ct}):
            vals = []
            for c in ("g++", "clang++"):
                v = ct.get((c, n))
                vals += [fmt(v[1], 2) if v else "NaN", str(v[2]) if v else "NaN"]
            f.write(f"{n} " + " ".join(vals) + "\n")
    script = f"""
set terminal svg size 1000,480 dynamic font "sans,11" background "white"
set output "{out_dir}/compile-time.svg"
set multiplot layout 1,2 title "Compiling one generated policy against every path (-O2)"
set logscale xy
set xlabel "filters"
set grid
set key top left
set ylabel "CPU seconds (user + sys)"
plot "{tmp}/ct.dat" using 1:2 with linespoints title "g++ 12", "{tmp}/ct.dat" using 1:4 with linespoints title "clang 14", \\
     "{tmp}/ct.dat" using 1:($1*0.015) with lines dashtype 2 title "linear: 15 s per 1000"
set ylabel "peak compiler memory (MB)"
plot "{tmp}/ct.dat" using 1:3 with linespoints title "g++ 12", "{tmp}/ct.dat" using 1:5 with linespoints title "clang 14"
unset multiplot
"""
    subprocess.run([gp], input=script, text=True, check=True)
    made.append("compile-time.svg")
    shutil.rmtree(tmp, ignore_errors=True)
    return made


# ---- where the time goes ---------------------------------------------------------------------------------


def analysis(ns, workloads, ct):
    w = "mix" if "mix" in workloads else workloads[0]
    floor, s100, bpf100 = ns(w, "floor"), ns(w, "strata-s100-pipeline"), ns(w, "bpf-s100")
    p1000, acl = ns(w, "strata-1000-pipeline"), ns(w, "rte_acl-1000-batch64") or ns(w, "rte_acl-1000")
    t = ["## Where the time goes, and what is left\n"]
    t.append("Profiles: `perf record -e cpu-clock` on `bench/throughput --only=NAME` pinned to one CPU (this VM "
             "exposes no hardware counters: `perf stat` cannot count cycles or instructions here). The percentages "
             "below are from the profiling runs made when this benchmark was written (2026-11-22); the figures in "
             "ns come from the tables above.\n")
    t.append("**1. The 1000-filter policy (fixed in `include/strata/pipeline.hpp`).** Before, `strata-1000` was "
             "*slower* than the run-time vector engine (129 vs 104 ms per mix replay, same run) and its pipeline 4.7× "
             "slower than rte_acl. Three causes in `compiled<P>::filter_step`: (a) in the large outlined layer "
             "functions g++ stopped inlining `test_address`/`test_integer`, so every condition became a call that "
             "switches on a constant match type (`test_address` alone: 6% of the samples); the equal and range tests "
             "are now spelled out under `if constexpr`. (b) Every matching filter's `filter_value` (~80 bytes) was "
             "built on the stack to call `outcome(f, v, write)`; without a callout the outcome is a constant and is "
             "now folded at compile time. (c) After a hard decision (a block, a hard permit) the layer's remaining "
             "filters were still tested and ignored; in a layer without callout filters nothing can change the "
             "result any more (only a callout vetoes, only an inspection callout has a side effect), so they are "
             "now skipped, as the hand-written code and the run-time engine do. Before → after (separate runs on "
             "the loaded machine, so approximate): `strata-1000` 129–183 → 52–64 ms per mix replay, "
             "`strata-1000-pipeline` 92–142 → 24–30 ms (rte_acl batched: 18–20 ms), `strata-100` unchanged within "
             "noise. Verdicts are unchanged (the unit tests compare compiled with "
             "generic on random packets and every path; the checks above compare every contender).\n")
    p1000b = ns(w, "strata-1000-pipeline-batch")
    t.append(f"**2. Against rte_acl at 1000 rules** (per {w} frame, the parse included in all: strata's pipeline "
             f"{fmt(p1000)} ns one frame per call, {fmt(p1000b)} ns batched; rte_acl {fmt(acl)} ns batched). "
             "rte_acl walks a multi-bit trie built at run time (a few dependent loads whatever the rule count) and, "
             "batched, interleaves 64 keys. **Changed (2026-12-05, session 4):** a layer of 48 filters or more "
             "without callouts is no longer tested filter by filter. `compiled<P>` builds, at compile time, hash "
             "tables of the values its filters test a field for (up to three keys, each a field and a mask, chosen "
             "greedily: on p1000's transport layers the local port, the remote /24 and the protocol); a packet "
             "looks up its own values (a multiplication, one bucket, usually no entry) and tests only the filters "
             "filed there, out of line; a filter whose only test is its key needs none (a product by an odd "
             "constant is a bijection, so equal hashes are equal values). The filters the index cannot file "
             "(ranges, negations, sets, flags) stay an unrolled chain, their matches as bits (session 5: tested "
             "without branches where the tests are plain comparisons, a range as one unsigned comparison: g++ had "
             "turned the chain's port ranges into a search tree that mispredicted on random ports; mix s100 "
             "batched ~10-20% faster, real ~5% slower as its replayed ports train the predictor); the matches are "
             "arbitrated in evaluation order, so verdicts are unchanged (tests/unit/layer_index_test.cpp against the "
             "generic evaluator; the checks above, rte_acl's included). With it: the paths copy the packet's values "
             "only for the steps that change them, and `stateless<P>` calls its two paths by name; three "
             "store-forwarding stalls went with them. Same binary, min of 10 alternated runs on a loaded machine: "
             "pipeline batched vs rte_acl batched 0.89× → 1.36× (real) and 1.55× → 1.63× (mix); compile time "
             "unchanged within noise (concurrent pairs: 3000 filters g++ 39.8 → 41.0 s, clang 27.1 → 27.8 s). "
             "Before it, two index prototypes lost to the chain (session 3): cut points with binary searches "
             "(87–106 vs 37–50 ns for a TCP path's three layers) and the same branch-free (43 vs 18 ns per "
             "167-filter layer): the unrolled chain costs about a third of a cycle per filter, so only O(1) "
             "lookups win. The full engine (`strata-1000`) also runs the ALE layers and the flow table, which "
             "rte_acl's question does not have.\n")
    t.append(f"**3. The floor** ({fmt(floor)} ns per {w} frame) dominates every policy below a few hundred "
             "filters. Its profile on the mix (`--only=floor`, 2026-11-22): the first touch of each frame's headers "
             "19% (`parse_link`; the mix's 57 MB of frames do not stay in the caches, the real captures do), the flow "
             "table's lookup and update in `inbound_tcp`/`outbound_tcp` 22% (a miss in the 4 MB table), "
             "`flow_table::expire` 11% (8 buckets, 448 bytes, examined on every frame even when the table holds no "
             "non-TCP flow), `classify` itself 14% — mostly building the `record`: in `verdict_engine` its 24-step "
             "trace is still initialized on every frame and `parsed` (~200 bytes) is zeroed, then copied once more "
             "for every inbound frame; a `flow_label` built aside and copied into the record was read back as "
             "16-byte words over narrower stores (a store-forwarding stall) —, `host::direction` 2%, and "
             "`reauthorizes(kind)` recomputing a path's step list on every frame, 1.5%. **Changed (2026-12-05):** "
             "expiry paced by the clock (`flow_table::expire_paced`: the whole table once per second of capture "
             "time in 1 ms slices, never more buckets than `expire` on every frame), the flow's bucket prefetched as "
             "soon as the direction is known, no copy of `parsed` for inbound frames that need no reassembly, the "
             "record's flow label written in place, `reauthorizes` a constexpr table; then the trace of a record "
             "left uninitialized past its `count` (`step_record` trivially default-constructible), so that "
             "`verdict_engine` no longer stores ~400 bytes of empty steps per frame. Floor before → after, the two "
             "binaries alternated 4 times (3 repetitions each, pinned to one CPU; medians of the runs, best run in "
             "brackets): the first five changes: mix 214.8 → 195.8 ns/frame (208.3 → 182.1), real 120.7 → 107.6 "
             "(117.3 → 102.5); the trace: mix 202.9 → 197.2 (182.1 → 173.6), real 103.3 → 83.8 (101.6 → 80.1); "
             "all of it, under heavier load: mix 292.8 → 229.9 (214.0 → 187.2), real 180.1 → 116.2 (137.1 → "
             "90.0) — about 12–20% less on the mix, a third less on the real captures. Traces are unchanged "
             "(strata-classify's JSONL and `--summary` are identical on every capture under every policy). What is "
             "left, by profile of the new floor on the mix: `parse` 35% (half of it the first touch of the frame, a "
             "cache miss; 13% of it `rep stos` zeroing `parsed`), `flow_table::find` 15% (two thirds of it the "
             "bucket's first load: the prefetch comes only a few dozen ns earlier). The floor is now mostly cache "
             "misses, not instructions: the next step is a batch API (`classify(span<frame>)`) that prefetches the "
             "next frames' first line and flow buckets.\n")
    t.append(f"**4. Why ≥ 5× `bpf_filter` is missed in the engine:** the goal compares strata's whole engine (flows, "
             f"paths, listener oracle, records) with a stateless filter program. The floor alone ({fmt(floor)} ns) "
             f"is {fmt(ratio(floor, bpf100), 2)}× `bpf-s100`'s whole time ({fmt(bpf100)} ns): no classifier on top of "
             "this engine can be 5× faster than BPF until the per-frame bookkeeping falls below a fifth of BPF's "
             "time (see 3). As a "
             f"classifier (`strata-s100-pipeline`, parse + direction + compiled pipeline, {fmt(s100)} ns) strata is "
             f"{fmt(ratio(bpf100, s100), 1)}× faster than `bpf-s100`, and it grows far slower with the rule count "
             "(BPF's time is linear in its instructions: compare s10 and s100 in the table). Part of the pipeline's "
             "time is the parse itself (strata decodes every header and IPv6 extension; BPF reads three fields at "
             "fixed offsets). With all the floor changes of 3 (one run of the floor, s100, bpf-s100, p1000 and rte_acl "
             "contenders, loaded machine, 2026-12-05; ratio = their time / strata's): bpf-s100 / strata-s100 1.18× "
             "(mix) and 1.30× (real), was 0.88× and 0.61× in a run just before the changes; the pipeline 1.60× "
             "and 1.88× (was 1.56× both); rte_acl (best of single/batch) / strata-1000 0.50× and 0.32× (was 0.41× "
             "and 0.29×), its pipeline 0.74× and 0.54× (was 0.68× and 0.55×). The floor is now 0.78× (mix) and "
             "0.72× (real) of BPF's whole time: 5× stays out of reach of the engine without the batch API of 3. "
             "**Changed (2026-12-05, later):** `parse` takes a straight line for the common frame (untagged "
             "Ethernet, IPv4 without options or fragmentation, TCP or UDP; every other frame goes the general way, "
             "unchanged: tests/unit/packet_fast_path_test.cpp compares the two field by field), `parsed::icmp` "
             "(112 of its 288 bytes) is written only for ICMP frames instead of cleared on every frame, "
             "`host::direction` uses masks computed once; `strata::stateless<P>` (strata/stateless.hpp) is the "
             "stateless classifier as a library type, one frame per call or in batches that prefetch the headers "
             "of the frames ahead (the misses of the mix overlap); for the common frame it reads its key straight "
             "from the bytes after parse's checks (no `parsed` record), and it writes its answer with less of the "
             "store-forwarding stall of a copied `path_result`; the engine has the same batch form "
             "(`classify(span, sink)`). A/B of `strata-s100-pipeline` before → after the parse changes "
             "(alternated, pinned, medians): real 61.7 → 29.8 ns/frame, mix 140 → 105; the key from the bytes, "
             "batched: real 23.6 → 18.3, mix 47.6 → 36.8 (best of two alternations). In this run: "
             f"`strata-s100-pipeline` {fmt(s100)} ns, batched {fmt(ns(w, 'strata-s100-pipeline-batch'))} "
             f"({fmt(ratio(bpf100, ns(w, 'strata-s100-pipeline-batch')), 2)}× `bpf-s100`); the floor batched "
             f"{fmt(ns(w, 'floor-batch'))} ns ({fmt(floor)} one frame per call). What is left of the stateless "
             "time: the frame's first touch where the prefetch comes too late or not at all (the first frames of "
             "a batch), the compiled layers' filter tests, the copy of the pipeline's `path_result` through the "
             "stack (g++ still spills the two registers it is returned in), and for the engine the flow table "
             "(parsing ahead to prefetch flow buckets as well measured no better).\n")
    g1, g3 = ct.get(("g++", 1000)), ct.get(("g++", 3000))
    c1, c3 = ct.get(("clang++", 1000)), ct.get(("clang++", 3000))
    g10 = ct.get(("g++", 10))
    if g1:
        t.append(f"**5. Compile time.** g++ needs {g1[1]:.1f} s CPU and {g1[2]} MB at 1000 filters (goal: 15 s, 1 GB)"
                 + (f", clang {c1[1]:.1f} s and {c1[2]} MB" if c1 else "")
                 + (f"; from 1000 to 3000 filters g++ grows ×{g3[1] / g1[1]:.2f} in CPU time and reaches {g3[2]} MB"
                    if g3 else "")
                 + (f", clang ×{c3[1] / c1[1]:.2f}" if c1 and c3 else "")
                 + (f". A fixed {g10[1]:.1f} s (g++, 10 filters) is the headers and the 74 path pipelines" if g10 else "")
                 + ". Where the rest goes (g++ -ftime-report above, clang -ftime-trace below): the optimizer and code "
                 "generation of the unrolled layers and of the path table (each path's steps inlined, for both "
                 "tracing modes in a real program), and the front end: each filter's `filter<>` instantiation and its "
                 "constant evaluation, and per filter one `filter_step` in `compiled<P>`. **Changed (2026-12-05):** "
                 "a filter's condition groups are tested in one fold inside its `filter_step` (the groups' bounds "
                 "computed once per policy, one condition test template per field and match type), where each filter "
                 "instantiated `filter_step`, `matches`, `groups_of`, `all_groups`, one `any_of` per group and one "
                 "`test_condition` per condition; `filter<Name, L>(...)` leaves everything that does not need the "
                 "name (argument checks, values, weight) to templates of the layer and argument types, shared by "
                 "every filter of the same shape; `policy()` finds duplicate names from the argument types. Same "
                 "source, same machine, idle, alternated: 1000 filters 15.2 → 12.9 s CPU (two runs each), 679 → "
                 "582 MB; the pipeline change alone measured 19.2 → 13.2 s in an earlier, slower phase of the VM. "
                 "Tried and not kept (no difference beyond the noise): chunks of 16 or 32 filters, the layer state "
                 "passed by value between chunks, the condition groups ordered by selectivity, a chunk cut short by "
                 "a fold at a hard decision. Each condition's operands are read from a constant of their own "
                 "(`compiled<P>::condition_at<I>`): read through a reference into the whole policy, clang emitted the "
                 "policy as one constant and folded every operand out of it, which grew faster than the policy (3000 "
                 "filters, clang: 37.2 → 20.4 s in a concurrent pair). Left: the path table's fixed cost (~2 s with both tracing modes, paid by "
                 "every policy), and g++'s memory at 3000 filters (above 1 GB; the goal is for 1000).\n")
    t.append("**6. Live** (item 4): see the Live section below (bench/live): drops and the consumer's CPU per "
             "packet against tcpdump in the same run. **Changed (2026-12-05, session 5):** five per-frame costs of "
             "the engine removed (a 3-byte path key read back as one word when `run()` was called, not inlined; a "
             "set-snapshot check that set up a whole stack frame; the IPv4 addresses written as two halves and read "
             "as one 16-byte load; the flow key hashed twice; the fragment paths' large locals in every frame's "
             "stack frame): engine harness (60-byte UDP flood, listener hook) ~40 → ~33 ns per frame; 1 worker "
             "`-q` on 60-byte frames, 10 alternated live rounds: median 69 → 59 ns against tcpdump's 71. Single "
             "runs of one binary still move between 55 and 100 ns on this VM, hence the rounds. Left (profile of "
             "the live worker): classify 29% (a third of it the flow-key hash feeding the prefetch), parse 14%, "
             "ring reading 13%, the listener cache 8%. **Changed (session 6): the ring with records.** In the "
             "previous bench/run one JSON Lines run of three dropped 6,203 of 1,000,000 60-byte frames at "
             "770,000 packets/s; every `-q` run dropped nothing. With records an output thread competes with the "
             "worker for the CPU: an instrumented worker fell up to 27 ms behind the kernel with the 8 MiB ring "
             "(which holds ~75 ms of 60-byte frames at that rate), and with a 2 MiB ring every JSON Lines run "
             "dropped (up to 46,384 frames) against 1,245-1,767 with `-q`. strata-classify now gives a socket "
             "32 MiB when it writes records (~300 ms of such frames), 8 MiB with `-q`: in alternated rounds 32 "
             "MiB cost JSON Lines nothing measurable (median 339 against 331 ns per packet) but `-q` ~40% (80 "
             "against 58 ns). The drops of this run are in the table below.\n")
    return "\n".join(t)


def sets_section(path):
    """Run-time sets (bench/sets.cpp): ns per lookup by structure and size, and a compiled path with a set."""
    if not os.path.exists(path):
        return ""
    benches = json.load(open(path)).get("benchmarks", [])
    medians = [b for b in benches if b.get("aggregate_name") == "median"]  # with --benchmark_repetitions
    by = {}
    for b in medians or [b for b in benches if b.get("run_type", "iteration") == "iteration"]:
        name, _, n = b.get("run_name", b["name"]).partition("/")
        by[(name, n)] = (b["cpu_time"], b.get("label", ""))
    sizes = ["10", "1000", "100000"]
    kinds = [("BM_v4_hosts", "IPv4 host addresses"), ("BM_v4_prefixes", "IPv4 /24 prefixes"),
             ("BM_v6_hosts", "IPv6 host addresses"), ("BM_v6_prefixes", "IPv6 /64 prefixes"),
             ("BM_ports", "ports (100k: random ports with repeats)"),
             ("BM_path_with_set", "whole TCP active-open path, filter `remote_address in @blocklist` (IPv4 hosts)")]
    rows = []
    for key, label in kinds:
        cells = []
        for n in sizes:
            t = by.get((key, n))
            cells.append(f"{t[0]:.1f} ({t[1]})" if t and t[1] else (f"{t[0]:.1f}" if t else "–"))
        rows.append([label] + cells)
    lit = by.get(("BM_path_with_literal", ""))
    out = ["## Run-time sets\n",
           "`bench/sets` (Google Benchmark): CPU ns per membership lookup (label: the structure chosen for that size), "
           "2^20 random queries (more than the caches hold), half of them in the set. The structure is chosen "
           "when a set is built: up to 16 disjoint intervals a sorted array scanned without an early exit; more "
           "host addresses a hash table (linear probing, load ≤ 1/2); more prefixes sorted disjoint intervals "
           "with a branch-free binary search; more ports a 65,536-bit bitmap. Hash and bitmap costs do not grow "
           "with the size; the binary search grows with log n and with its cache misses (100k IPv4 intervals are "
           "800 KB, IPv6 3.2 MB). The last row is a whole compiled path (`compiled<P>::run`), set lookup included.\n",
           table(["set", "10 entries", "1k entries", "100k entries"], rows) + "\n"]
    if lit:
        out.append(f"The same path with the filter testing a literal prefix instead of a set: {lit[0]:.1f} ns.\n")
    return "\n".join(out)


def load_live(path):
    return json.load(open(path)) if os.path.exists(path) else []


def live_aggregate(rows):
    """One row per (traffic, consumer) over bench/live's rounds: the medians of the sender's rate, the packets
    the kernel saw and the CPU per packet (with its range), the most drops in one run, and the median of the
    per-round ratios to tcpdump (each strata run against tcpdump's run in the same round)."""
    def tcpdump_of(r):
        return next((t.get("cpu_ns_per_packet") for t in rows if t["traffic"] == r["traffic"]
                     and t.get("round", 1) == r.get("round", 1) and t["consumer"] == "tcpdump"), None)
    out = []
    for key in dict.fromkeys((r["traffic"], r["consumer"]) for r in rows):
        rs = [r for r in rows if (r["traffic"], r["consumer"]) == key]
        cpu = [r["cpu_ns_per_packet"] for r in rs if r.get("cpu_ns_per_packet")]
        ratios = [r["cpu_ns_per_packet"] / tcpdump_of(r) for r in rs if r.get("cpu_ns_per_packet") and tcpdump_of(r)]
        out.append({"traffic": key[0], "consumer": key[1], "runs": len(rs), "offered": rs[0]["offered"],
                    "sender_pps": int(statistics.median(r["sender_pps"] for r in rs)),
                    "kernel_packets": int(statistics.median(r["kernel_packets"] for r in rs)),
                    "kernel_drops": max(r["kernel_drops"] for r in rs),
                    "cpu_ns_per_packet": statistics.median(cpu) if cpu else None,
                    "cpu_range": (min(cpu), max(cpu)) if cpu else None,
                    "ratio": statistics.median(ratios) if ratios else None})
    return out


def live_section(rows):
    """bench/live: a bounded sender over a veth pair; strata-classify -i and tcpdump on the other end."""
    if not rows:
        return ""
    names = {"tcpdump": "tcpdump -w /dev/null (capture only)", "strata-q-1": "strata, 1 worker, records off (-q)",
             "strata-jsonl-1": "strata, 1 worker, JSONL to /dev/null", "strata-q-2": "strata, 2 workers, -q",
             "strata-jsonl-2": "strata, 2 workers, JSONL to /dev/null"}
    traffic = {"udp60": "UDP, 60-byte frames", "udp1514": "UDP, 1514-byte frames",
               "replay": "replay of tests/data/strata-demo.pcap"}
    out = ["## Live\n",
           "`bench/live` (run by bench/run as root): two network namespaces joined by a veth pair; `bench/live_sender` "
           "sends a fixed number of packets as fast as it can (UDP with `sendmmsg`, 64 a call, to a closed port; or "
           "the demo capture's frames written to the interface, looped); the consumer captures on the other end. "
           "Consumers run one after another on the same traffic, in rounds (every consumer on every traffic, the "
           "consumers' order rotated from round to round), so that a slow phase of the shared machine falls on all "
           "of them alike. CPU = the time the consumer's threads ran (user + "
           "system, /proc/PID/task/*/schedstat, ns) from just before the sender starts until its ring is drained "
           "(1 s after the sender's end: idle wake-ups count): the median over the rounds, and its range; × tcpdump = "
           "the median of the rounds' ratios of that CPU per packet to tcpdump's on the same traffic in the same "
           "round; kernel drops: the most in one run. "
           "Each strata worker classifies every frame (flows, listener questions answered from the socket table, "
           "the compiled `observe` pipeline, tracing on); tcpdump only copies frames to /dev/null (libpcap's "
           "default 2 MiB ring). strata's rings are its defaults: 8 MiB per worker with `-q`, 32 MiB with JSON "
           "Lines.\n"]
    body = []
    for r in live_aggregate(rows):
        c, lo_hi = r["cpu_ns_per_packet"], r["cpu_range"]
        body.append([traffic.get(r["traffic"], r["traffic"]), names.get(r["consumer"], r["consumer"]), str(r["runs"]),
                     f"{r['offered']:,}", f"{r['sender_pps']:,}", f"{r['kernel_packets']:,}", f"{r['kernel_drops']:,}",
                     f"{c:.0f} ({lo_hi[0]:.0f}–{lo_hi[1]:.0f})" if c is not None else "–",
                     f"{r['ratio']:.2f}" if r["ratio"] else "–"])
    out.append(table(["traffic", "consumer", "runs", "offered per run", "sender pps", "kernel saw", "kernel drops",
                      "CPU ns/packet (range)", "× tcpdump"], body) + "\n")
    return "\n".join(out)


def live_goals(rows):
    """(drops ok, drops note, cpu ok, cpu note) for the two live goals, or None when not measured."""
    if not rows:
        return None
    strata = [r for r in rows if r["consumer"].startswith("strata") and r["traffic"] in ("udp60", "udp1514")]
    worst = {t: max([r for r in strata if r["traffic"] == t], key=lambda r: r["kernel_drops"], default=None)
             for t in ("udp60", "udp1514")}
    rates = {t: max([r["sender_pps"] for r in rows if r["traffic"] == t] or [0]) for t in ("udp60", "udp1514")}
    drops_ok = all(w is None or w["kernel_drops"] == 0 for w in worst.values())
    drops_note = "; ".join(
        f"{t}: sender up to {rates[t]:,} pps, most drops in a strata run {w['kernel_drops'] if w else 0:,}"
        + (f" ({w['consumer']}, round {w.get('round', 1)})" if w and w["kernel_drops"] else "")
        for t, w in worst.items())
    cpu = []
    cpu_ok = True
    agg = live_aggregate(rows)
    for t in ("udp60", "udp1514", "replay"):
        td = next((r for r in agg if r["traffic"] == t and r["consumer"] == "tcpdump"), None)
        st = next((r for r in agg if r["traffic"] == t and r["consumer"] == "strata-q-1"), None)
        if td and st and td["cpu_ns_per_packet"] and st["ratio"]:
            cpu_ok = cpu_ok and st["ratio"] <= 1.0
            cpu.append(f"{t}: {st['cpu_ns_per_packet']:.0f} vs {td['cpu_ns_per_packet']:.0f} ns ({st['ratio']:.2f}×)")
    return drops_ok, drops_note, cpu_ok, ("strata 1 worker -q vs tcpdump, medians over "
                                          f"{max(r['runs'] for r in agg)} rounds (ratio: the median of the "
                                          "rounds' ratios): " + "; ".join(cpu))


# ---- the README -----------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True, help="where README.md and the plots go (bench/)")
    a = ap.parse_args()
    R = a.results
    ctx, rows = load_throughput(os.path.join(R, "throughput.json"))
    mem = json.load(open(os.path.join(R, "memory.json"))) if os.path.exists(os.path.join(R, "memory.json")) else {}
    live_rows = load_live(os.path.join(R, "live.json"))
    paired = load_paired(os.path.join(R, "paired.jsonl"))
    ct = load_compile_time(os.path.join(R, "compile-time.txt"))
    machine = open(os.path.join(R, "machine.txt")).read().strip() if os.path.exists(os.path.join(R, "machine.txt")) else ""
    trace_n, trace_totals, trace_details = time_trace_summary(R)
    workloads = [w for w in ("mix", "real") if any(k[0] == w for k in rows)]

    def ns(w, n):
        return rows.get((w, n), {}).get("ns")

    L = []
    L.append("# strata benchmarks\n")
    L.append("Regenerated by `bench/run` (one command: installs the `bench` packages, builds `build/bench`, runs "
             "the throughput and memory programs pinned to one CPU, the compile-time scaling, and writes this file "
             "and the plots). Do not edit by hand: edit `bench/report.py`.\n")
    L.append("## Machine, compiler, flags, commit\n")
    L.append("```\n" + machine + "\n```\n")
    L.append("Timing: Google Benchmark, every contender replays the same in-memory frames; each is run "
             f"{ctx.get('repetitions', 'several')} times, repetitions randomly interleaved across contenders, and the "
             "**median CPU time** per replay is divided by the number of frames. The machine is shared (2 cores, "
             "other builds running): absolute figures drift from run to run, so read the **ratios**, which come "
             "from one run. The goals that compare close contenders (strata-100 against the floor and the hand-written "
             "classifier) come from paired rounds run after it: each round runs only those three, once each per "
             "workload, in random order within a few seconds, and the median of the rounds' ratios is taken, so that a "
             "slow phase of the VM falls on all three alike. Every contender is cross-checked against strata before "
             "timing (see Checks).\n")

    # workloads
    L.append("## Workloads\n")
    wl_rows = []
    for w in workloads:
        wl_rows.append([w, ctx.get(f"workload.{w}.packets", "?"), ctx.get(f"workload.{w}.segments", "?"),
                        f"{int(ctx.get(f'workload.{w}.bytes', 0)) / 1e6:.1f} MB"])
    L.append(table(["workload", "frames", "captures", "bytes in memory"], wl_rows) + "\n")
    L.append("* **mix**: generated in process by `bench/throughput.cpp` (not with `scripts/traffic.py`, which needs "
             "network namespaces and root): 12,000 flows, 1,500 concurrently open, frames interleaved at random across "
             "the open flows, 3 µs apart. 30% inbound TCP (SYN, SYN-ACK, ACK, 1–5 request/response exchanges with "
             "pure ACKs, 1460-byte and shorter segments, FIN/ACK both ways), 35% outbound TCP, 18% outbound UDP, 8% "
             "inbound UDP, 3% UDP to a closed port answered by ICMP port unreachable, 3% TCP SYN to a closed port "
             "answered by RST, 3% ICMP echo; 12% of flows IPv6. Half of the IPv4 flows are aimed at a filter of the "
             "benchmark policies (its port, remote /24, local address, protocol) so that filters match. The host "
             "owns 192.168.0.0/16 and fd00:1::/64. The frames (57 MB) do not fit the caches: every contender pays a "
             "miss on each frame's headers.\n"
             "* **real**: `tests/data/strata-demo.pcap` (its observed host per strata-demo.md) plus every capture in "
             "`../shared/captures` when present (each seen from its most frequent address per family). Small (fits "
             "the caches), but every oddity: fragments, VLANs, IPv6 extension headers, scans, ICMP errors.\n"
             "* Replayed in a loop: each replay moves the timestamps forward by the capture's span + 120 s, so "
             "flows are created, torn down and expired the same way on every replay. Tracing off "
             "(`strata::verdict_engine`), the offline listener oracle on (as `strata-classify` runs).\n")

    # policies
    L.append("## Policies\n")
    L.append("Generated by `bench/gen_policy.py --bench-dir` at build time. **p10/p100/p1000**: N filters "
             "round-robin over ALE_AUTH_RECV_ACCEPT_V4, ALE_AUTH_CONNECT_V4, INBOUND/OUTBOUND_TRANSPORT_V4 and "
             "INBOUND/OUTBOUND_IPPACKET_V4, three sublayers, half permit half block, 1–3 conditions (local port or "
             "port range, remote /24, protocol; local address at the IP layers), half with a weight range. Some "
             "filters test only the protocol, so a block there drops all TCP or UDP at that layer: p1000 blocks "
             f"{ctx.get('blocked.mix.strata-1000', '?')} of the mix's frames per replay, p100 "
             f"{ctx.get('blocked.mix.strata-100', '?')}. **s10/s100**: stateless 5-tuple block lists at the two "
             "transport layers (protocol + local port or range + remote /24 in 60%), one sublayer, block only: what "
             "a BPF expression can say exactly (`bench_bpf.hpp`). The hand-written classifier (`bench_hand100.hpp`, "
             "one if/else chain per sublayer, cheap tests first, `return` on a block) and the plain rule lists of the "
             "run-time engine (`bench_rules.hpp`) come from the same generator.\n")

    # throughput
    L.append("## Throughput\n")
    L.append("![time per packet](throughput.svg)\n")
    hdr = ["contender"]
    for w in workloads:
        hdr += [f"{w}: ns/frame", f"{w}: × floor", f"{w}: Mframes/s"]
    hdr += ["what"]
    trows = []
    for n in ORDER:
        if not any((w, n) in rows for w in workloads):
            continue
        r = [f"`{n}`"]
        for w in workloads:
            v = ns(w, n)
            r += [fmt(v), fmt(ratio(v, ns(w, "floor")), 2), fmt(1e3 / v if v else None, 2)]
        r.append(DESCRIPTIONS[n])
        trows.append(r)
    L.append(table(hdr, trows) + "\n")
    cvs = [rows[k].get("cv") for k in rows if rows[k].get("cv") is not None]
    if cvs:
        L.append(f"Spread: the coefficient of variation of the repetitions is at most {max(cvs) * 100:.0f}% "
                 f"(median {sorted(cvs)[len(cvs) // 2] * 100:.0f}%).\n")

    # goals
    L.append("## Goals of issue 4\n")
    g = []

    def goal(text, value, ok, note):
        g.append([text, value, "met" if ok else ("**missed**" if ok is not None else "not measured"), note])

    def close_goal(text, w, other, limit):
        single = ratio(ns(w, "strata-100"), ns(w, other))
        cv = max([rows[k].get("cv", 0) for k in rows if k[0] == w and k[1] in ("strata-100", other)] or [0])
        spread = (f"in the single run above {fmt(single, 3)}× ({fmt(ns(w, 'strata-100') - ns(w, other))} ns/frame; "
                  f"the two contenders' repetitions vary by up to {cv * 100:.0f}% (CV))" if single else "")
        p = paired_ratio(paired, w, "strata-100", other)
        if p:
            goal(text, fmt(p[0], 3) + "×", p[0] <= limit,
                 f"median of {p[3]} paired rounds (range {fmt(p[1], 3)}–{fmt(p[2], 3)}×; each round runs floor, "
                 f"strata-100 and hand-100 once, in random order, within seconds); {spread}")
        else:
            goal(text, fmt(single, 3) + "×", single is not None and single <= limit, spread)

    for w in workloads:
        close_goal(f"100 filters ≤ 1.25× the floor ({w})", w, "floor", 1.25)
    for w in workloads:
        close_goal(f"100 filters ≤ 1.05× hand-written ({w})", w, "hand-100", 1.05)
    def best(w, names):  # the fastest of the contenders measured, and its name
        got = [(ns(w, n), n) for n in names if ns(w, n)]
        return min(got) if got else (None, None)

    for w in workloads:
        bpf = ns(w, "bpf-s100")
        s_ns, s_name = best(w, ["strata-s100-pipeline", "strata-s100-pipeline-batch"])
        e_ns, e_name = best(w, ["strata-s100", "strata-s100-batch"])
        st, eng = ratio(bpf, s_ns), ratio(bpf, e_ns)
        goal(f"≥ 5× faster than bpf_filter, stateless s100 ({w})",
             f"stateless {fmt(st, 2)}× (`{s_name}`); engine {fmt(eng, 2)}× (`{e_name}`)",
             st is not None and st >= 5,
             "ratio = bpf time / strata time, the best strata stateless contender (parse + direction + compiled "
             "pipeline, no flows; one frame per call or batched) against libpcap's one-frame `bpf_filter` (it has "
             "no batch form); engine = the full engine with flows, paths and records, best of one frame per call "
             "and its batch form"
             + (f"; stateless misses by {fmt(5 / st, 2)}×" if st and st < 5 else "")
             + (f"; the engine misses by {fmt(5 / eng, 1)}× (see 4 below)" if eng and eng < 5 else ""))
    for w in workloads:
        acl_best = min([v for v in (ns(w, "rte_acl-1000"), ns(w, "rte_acl-1000-batch64")) if v] or [None]) \
            if ns(w, "rte_acl-1000") else None
        eng = ratio(acl_best, ns(w, "strata-1000"))
        p_ns, p_name = best(w, ["strata-1000-pipeline", "strata-1000-pipeline-batch"])
        pipe = ratio(acl_best, p_ns)
        goal(f"≥ rte_acl's rate at 1000 rules ({w})",
             f"pipeline {fmt(pipe, 2)}× (`{p_name}`); engine {fmt(eng, 2)}×" if acl_best else "–",
             (pipe is not None and pipe >= 1) if acl_best else None,
             "ratio = rte_acl time (best of single/batch) / strata time, the best strata pipeline contender (one "
             "frame per call or batched); ≥ 1 is met"
             + (f"; the pipeline misses by {fmt(1 / pipe, 2)}×, the engine (flows, ALE layers) by {fmt(1 / eng, 2)}× "
                "(see 2 below)" if pipe and eng and pipe < 1 else ""))
    g1000 = ct.get(("g++", 1000))
    if g1000:
        goal("1000 filters compile in ≤ 15 s with g++ 12 -O2", f"{g1000[1]:.1f} s CPU ({g1000[0]:.1f} s wall)",
             g1000[1] <= 15, "CPU = user + sys, the fastest of three interleaved compiles (this VM's speed drifts by up "
             "to 30% within minutes); wall time includes waiting for the shared cores"
             + (f"; missed by {g1000[1] / 15:.2f}× (see 5 below)" if g1000[1] > 15 else ""))
        goal("… and ≤ 1 GB", f"{g1000[2]} MB", g1000[2] <= 1024, "peak resident memory of the compiler")
    g3000 = ct.get(("g++", 3000))
    if g1000 and g3000:
        grow = g3000[1] / g1000[1]
        goal("growth no worse than linear up to 3000 (g++)", f"×{grow:.2f} CPU time for ×3 filters", grow <= 3.0,
             "linear: ×3 (the fixed cost of the headers makes it less)"
             + (f"; above it by {grow / 3:.2f}×" if grow > 3 else ""))
    c1000, c3000 = ct.get(("clang++", 1000)), ct.get(("clang++", 3000))
    if c1000 and c3000:
        grow = c3000[1] / c1000[1]
        goal("growth no worse than linear up to 3000 (clang)", f"×{grow:.2f} CPU time for ×3 filters", grow <= 3.0,
             f"above linear by {grow / 3:.2f}×: each N is compiled three times in interleaved rounds, the fastest "
             "kept, but this VM's speed drifts by up to 30% within minutes" if grow > 3 else "")
    if mem:
        per_flow = mem["table_1m_bytes"] / mem["table_1m_flows"]
        goal("≤ 64 bytes per tracked flow", f"{per_flow:.5f} B", per_flow < 64.01,
             f"{mem['flow_entry_bytes']}-byte entry at a full table (load 7/8), table included; the 0.00005 is one "
             "rounding bucket for the whole million")
    lg = live_goals(live_rows)
    if lg is None:
        g.append(["Live: 0 kernel drops; capture + classification CPU ≤ tcpdump's", "–", "not measured",
                  "bench/live did not run (it needs root: network namespaces)"])
    else:
        goal("Live: 0 kernel drops at the sender's highest rate, both sizes, classification on", "", lg[0], lg[1])
        goal("Live: capture + classification CPU per packet ≤ tcpdump's capture only", "", lg[2], lg[3])
    L.append(table(["goal", "measured", "", "note"], g) + "\n")

    # stateless + acl detail
    L.append("## Stateless comparisons\n")
    for w in workloads:
        ins = ctx.get(f"bpf.s100.instructions.{w}", "?")
        ins10 = ctx.get(f"bpf.s10.instructions.{w}", "?")
        L.append(f"* {w}: s10 compiles to {ins10} BPF instructions, s100 to {ins}. "
                 f"bpf-s100 {fmt(ns(w, 'bpf-s100'))} ns/frame; strata-s100 (engine) {fmt(ns(w, 'strata-s100'))}; "
                 f"strata-s100-pipeline {fmt(ns(w, 'strata-s100-pipeline'))}, batched "
                 f"{fmt(ns(w, 'strata-s100-pipeline-batch'))}; the floor alone {fmt(ns(w, 'floor'))}, batched "
                 f"{fmt(ns(w, 'floor-batch'))}.")
    L.append(f"* rte_acl: {ctx.get('rte_acl.note', 'not run')}. It runs in a plain process here: EAL with "
             "`--no-huge --no-pci -l <cpu> -m 256 --no-telemetry --no-shconf`. The 5-tuple part of p1000 is its "
             "IP-packet and transport layers (666 of the 1000 filters; the ALE layers see only a flow's first "
             "packet and are not stateless); one ACL context per direction, one category per (layer, sublayer), "
             "priority = rank in WFP's order, WFP's arbitration across sublayers and the two layers applied to the "
             "six answers. Compared with `strata-1000-pipeline`, which answers the same question with the same "
             "parser; `strata-1000` (the full engine) also runs the ALE layers on new flows.\n")

    # checks
    L.append("## Checks (before timing, same run)\n")
    checks = sorted((k, v) for k, v in ctx.items() if k.startswith("check."))
    L.append(table(["check", "result"], [[k[6:], v] for k, v in checks]) + "\n")

    # compile time
    L.append("## Compile-time scaling\n")
    L.append("`bench/compile-time`: one translation unit per N (`gen_policy.py N --main`), the policy compiled against "
             "every path (the run-time dispatch table instantiates all of them), `-std=c++20 -O2`, compile + link. "
             "CPU = user + sys of the compiler (steadier than wall time on the shared machine), the fastest of three "
             "compiles of the same source, in interleaved rounds (every N, then every N again): this VM's speed "
             "drifts by up to 30% within minutes, and the drift only adds time (the same 1000-filter compile took "
             "12.3 and 17.0 s CPU five minutes apart, idle).\n")
    L.append("![compile time](compile-time.svg)\n")
    crow = []
    for n in sorted({k[1] for k in ct}):
        r = [n]
        for c in ("g++", "clang++"):
            v = ct.get((c, n))
            r += [f"{v[1]:.1f}" if v else "failed", f"{v[0]:.1f}" if v else "–", f"{v[2]}" if v else "–"]
        crow.append(r)
    L.append(table(["filters", "g++ CPU s", "g++ wall s", "g++ peak MB", "clang CPU s", "clang wall s", "clang peak MB"],
                   crow) + "\n")
    L.append("Reference (compile-time-cost.md, same machine kind): the naive Hana shape needs 156 s / 0.8 GB at 1000 "
             "filters.\n")
    if trace_n:
        L.append(f"### clang -ftime-trace, {trace_n} filters (`-c`, not timed)\n")
        L.append("Wall-clock seconds of the traced compile (the shared machine's load inflates them; read the shares). "
                 "The phases nest (Frontend and Backend make up ExecuteCompiler), and so do the events: an "
                 "instantiation's time includes the instantiations it triggers.\n")
        L.append(table(["phase (Total …)", "seconds"], [[t[0][6:], f"{t[1]:.2f}"] for t in trace_totals]) + "\n")
        if trace_details:
            L.append("Longest single events:\n")
            L.append(table(["event", "detail", "seconds"],
                           [[d[0], "`" + d[1][:90].replace("|", "\\|") + ("…" if len(d[1]) > 90 else "") + "`", f"{d[2]:.2f}"]
                            for d in trace_details]) + "\n")

    gtr = os.path.join(R, "gcc-time-report-1000.txt")
    if os.path.exists(gtr):
        phases = []
        for line in open(gtr):
            m = re.match(r"\s*([^:]+?)\s*:\s+([0-9.]+)\s*\(\s*(\d+)%\)", line)
            if m and m.group(1) != "TOTAL":
                phases.append((m.group(1).strip(" |"), float(m.group(2)), int(m.group(3))))
        phases.sort(key=lambda x: -x[1])
        if phases:
            L.append("### g++ -ftime-report, 1000 filters\n")
            L.append(table(["phase", "user s", "share"], [[p[0], f"{p[1]:.2f}", f"{p[2]}%"] for p in phases[:10]]) + "\n")

    # memory
    L.append("## Memory\n")
    if mem:
        L.append(table(["what", "value"], [
            ["`sizeof(flow::flow_entry)`", f"{mem['flow_entry_bytes']} B (whole key + state, no pointers)"],
            ["buckets per flow", "8/7 (capacity + ⌈capacity/7⌉; robin hood, Lemire reduction, no power-of-two rounding)"],
            ["bytes per tracked flow at the configured load (full table)", f"{mem['table_1m_bytes'] / mem['table_1m_flows']:.2f} B"],
            ["engine default table (65,536 flows)", f"{mem['engine_default_table_bytes']:,} B in {mem['engine_default_buckets']:,} buckets"],
            ["flow table with 1M flows: slot array", f"{mem['table_1m_bytes']:,} B"],
            ["flow table with 1M flows: resident (RSS delta)", f"{mem['table_1m_rss_bytes']:,} B"],
            ["engine, flow capacity 1M, after construction (RSS delta)", f"{mem['engine_1m_construct_rss_bytes']:,} B (all tables are touched at construction)"],
            ["engine after 1M inbound SYNs → 1M flows (RSS delta)", f"{mem['engine_1m_rss_bytes']:,} B for {mem['engine_1m_flows']:,} flows = {mem['engine_1m_rss_bytes'] / max(mem['engine_1m_flows'], 1):.1f} B/flow incl. the endpoint table and reassembly pool"],
        ]) + "\n")

    L.append(analysis(ns, workloads, ct))
    L.append(sets_section(os.path.join(R, "sets.json")))
    L.append(live_section(live_rows))

    made = svg_plots(os.path.abspath(a.out), rows, workloads, ct)
    with open(os.path.join(a.out, "README.md"), "w") as f:
        f.write("\n".join(L).rstrip() + "\n")
    print(f"report: wrote {os.path.join(a.out, 'README.md')} and {', '.join(made) or 'no plot (gnuplot missing)'}")


if __name__ == "__main__":
    main()

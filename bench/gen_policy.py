#!/usr/bin/env python3
"""Generates a strata policy of N filters spread over the ALE, transport and IP-packet layers.

Used by the compile-time scaling measurements and by the run-time benchmarks. Deterministic: the
same N gives the same policy.

  gen_policy.py N [--name NAME] [--main] > out.cpp     one policy (compile-time scaling)
  gen_policy.py --bench-dir DIR                        everything bench/throughput.cpp includes:
      DIR/bench_policy_NAME.hpp  strata policies p10, p100, p1000 (this generator's N = 10, 100, 1000) and
                              the stateless 5-tuple block lists s10, s100 (transport layers only)
      DIR/bench_rules.hpp     the same policies as plain rule lists, for the run-time (vector) engine
      DIR/bench_hand100.hpp   the hand-written classifier's layer functions for p100 (plain if/else)
      DIR/bench_bpf.hpp       s10 and s100 as libpcap filter expressions (host placeholders @IN@/@OUT@)
"""
import argparse
import os
import random

LAYERS = [
    # (layer, fields it may test)
    ("ale_auth_recv_accept_v4", ["port", "raddr", "proto"]),
    ("ale_auth_connect_v4", ["port", "raddr", "proto"]),
    ("inbound_transport_v4", ["port", "raddr", "proto"]),
    ("outbound_transport_v4", ["port", "raddr", "proto"]),
    ("inbound_ippacket_v4", ["raddr", "laddr"]),
    ("outbound_ippacket_v4", ["raddr", "laddr"]),
]
SUBLAYERS = [("admin", 0x9000), ("base", 0x4000), ("apps", 0x1000)]
SUBLAYER_WEIGHT = dict(SUBLAYERS)

# Condition kinds, as the rule list and the hand-written code number them.
PORT_EQ, PORT_RANGE, RADDR24, LADDR, PROTO = range(5)


class Cond:
    def __init__(self, kind, a, b=0):
        self.kind, self.a, self.b = kind, a, b

    def strata(self):
        if self.kind == PORT_EQ:
            return f"local_port == {self.a}"
        if self.kind == PORT_RANGE:
            return f"local_port == range({self.a}, {self.b})"
        if self.kind == RADDR24:
            return f'remote_address == "{ip(self.a)}/24"_v4'
        if self.kind == LADDR:
            return f'local_address == "{ip(self.a)}"_v4'
        return f"ip_protocol == {self.a}"

    def specificity(self):  # strata's automatic weight bits (filter.hpp, detail::specificity)
        if self.kind == PORT_RANGE:
            bits = (self.b - self.a).bit_length()
            return 1 if bits >= 16 else 16 - bits
        return {PORT_EQ: 16, RADDR24: 24, LADDR: 32, PROTO: 16}[self.kind]


class Filter:
    def __init__(self, index, layer, sub, weight, act, conds):
        self.index, self.layer, self.sub, self.weight, self.act, self.conds = index, layer, sub, weight, act, conds

    def effective_weight(self):  # WFP: a range in the top four bits, automatic bits below 2^60
        auto = min(sum(c.specificity() for c in self.conds), 0xFFFFF) << 40
        return auto if self.weight is None else (self.weight << 60) | auto

    def strata(self):
        w = f", weight({self.weight})" if self.weight is not None else ""
        act = "action::permit" if self.act == "permit" else "action::block"
        conds = ", ".join(c.strata() for c in self.conds)
        return f'    filter<"f{self.index}", layer::{self.layer}>({self.sub}{w}, {act}, {conds})'


def ip(v):
    return ".".join(str((v >> s) & 0xFF) for s in (24, 16, 8, 0))


def condition(rng, kind):
    if kind == "port":
        if rng.random() < 0.3:
            lo = rng.randrange(1024, 60000)
            return Cond(PORT_RANGE, lo, lo + rng.randrange(1, 500))
        return Cond(PORT_EQ, rng.randrange(1, 65535))
    if kind == "raddr":
        return Cond(RADDR24, (10 << 24) | (rng.randrange(256) << 16) | (rng.randrange(256) << 8))
    if kind == "laddr":
        return Cond(LADDR, (192 << 24) | (168 << 16) | (rng.randrange(256) << 8) | rng.randrange(256))
    return Cond(PROTO, rng.choice([6, 17]))


def filters_of(n):
    """The N-filter policy (the same random sequence as the generator has always used)."""
    rng = random.Random(n)
    out = []
    for i in range(n):
        layer, kinds = LAYERS[i % len(LAYERS)]
        sub = SUBLAYERS[i % len(SUBLAYERS)][0]
        act = "permit" if rng.random() < 0.5 else "block"
        conds = [condition(rng, k) for k in rng.sample(kinds, rng.randrange(1, len(kinds) + 1))]
        w = rng.randrange(16) if rng.random() < 0.5 else None
        out.append(Filter(i, layer, sub, w, act, conds))
    return out


def stateless_filters_of(n):
    """A stateless 5-tuple block list: protocol + local port (+ a remote /24) at the transport layers,
    one sublayer, block only. Expressible exactly as a BPF expression."""
    rng = random.Random(100_000 + n)
    out = []
    for i in range(n):
        layer = "inbound_transport_v4" if i % 2 == 0 else "outbound_transport_v4"
        conds = [Cond(PROTO, rng.choice([6, 17]))]
        if rng.random() < 0.25:
            lo = rng.randrange(1024, 60000)
            conds.append(Cond(PORT_RANGE, lo, lo + rng.randrange(1, 200)))
        else:
            conds.append(Cond(PORT_EQ, rng.randrange(1, 65535)))
        if rng.random() < 0.6:
            conds.append(Cond(RADDR24, (10 << 24) | (rng.randrange(256) << 16) | (rng.randrange(256) << 8)))
        out.append(Filter(i, layer, "base", None, "block", conds))
    return out


def policy_text(filters, name):
    return f"inline constexpr auto {name} = policy(\n" + ",\n".join(f.strata() for f in filters) + ");\n"


def sublayer_text():
    return "\n".join(f'inline constexpr sublayer {s}{{"{s}", {w:#x}}};' for s, w in SUBLAYERS)


def generate(n, name):
    return (f"// Generated by bench/gen_policy.py {n}: do not edit.\n#pragma once\n#include <strata/strata.hpp>\n\n"
            f"namespace generated {{\nusing namespace strata;\n{sublayer_text()}\n"
            + policy_text(filters_of(n), name) + "}  // namespace generated\n")


def evaluation_order(filters, layer):
    """strata's (and WFP's) order within a layer: sublayer weight desc, effective weight desc, declaration."""
    fs = [f for f in filters if f.layer == layer]
    return sorted(fs, key=lambda f: (-SUBLAYER_WEIGHT[f.sub], -f.effective_weight(), f.index))


def sublayer_indexes(filters):
    """Index of each sublayer in the policy's sorted sublayer list (as strata numbers them)."""
    seen = []
    for f in filters:
        if f.sub not in seen:
            seen.append(f.sub)
    ordered = sorted(seen, key=lambda s: -SUBLAYER_WEIGHT[s])  # weights are distinct
    return {s: i for i, s in enumerate(ordered)}


# --- the hand-written classifier ---------------------------------------------------------------------
def hand_condition(c):
    if c.kind == PORT_EQ:
        return f"port == {c.a}"
    if c.kind == PORT_RANGE:
        return f"port - {c.a}u <= {c.b - c.a}u"
    if c.kind == RADDR24:
        return f"rnet == {c.a:#010x}u /* {ip(c.a)}/24 */"
    if c.kind == LADDR:
        return f"laddr == {c.a:#010x}u /* {ip(c.a)} */"
    return f"proto == {c.a}"


def hand_layer(filters, layer, subidx):
    order = evaluation_order(filters, layer)
    kinds = {c.kind for f in order for c in f.conds}
    lines = [f"// {layer}: {len(order)} filters", f"inline layer_decision {layer}(const strata::incoming_values& v) {{"]
    if kinds & {PORT_EQ, PORT_RANGE}:
        lines.append("  const unsigned port = v.local_port;")
    if PROTO in kinds:
        lines.append("  const unsigned proto = v.ip_protocol;")
    if RADDR24 in kinds:
        lines.append("  const std::uint32_t rnet = static_cast<std::uint32_t>(v.remote_address.lo) & 0xffffff00u;")
    if LADDR in kinds:
        lines.append("  const std::uint32_t laddr = static_cast<std::uint32_t>(v.local_address.lo);")
    lines.append("  layer_decision d;  // a permit is soft: a lower sublayer may still decide")
    current = None
    for f in order:
        # cheap, selective tests first: protocol and port before addresses
        conds = sorted(f.conds, key=lambda c: {PROTO: 2, PORT_EQ: 0, PORT_RANGE: 1, RADDR24: 3, LADDR: 4}[c.kind])
        test = " && ".join(hand_condition(c) for c in conds)
        s = subidx[f.sub]
        if f.sub != current:
            lines.append(f"  // sublayer {f.sub}")
            kw = "if"
            current = f.sub
        else:
            kw = "else if"
        if f.act == "block":  # a block is hard: nothing after it can override it
            lines.append(f"  {kw} ({test}) return {{strata::action::block, {f.index}, {s}}};  // f{f.index}")
        else:
            lines.append(f"  {kw} ({test}) d = {{strata::action::permit, {f.index}, {s}}};  // f{f.index}")
    lines.append("  return d;\n}")
    return "\n".join(lines)


def hand_header(filters, n):
    subidx = sublayer_indexes(filters)
    body = "\n\n".join(hand_layer(filters, layer, subidx) for layer, _ in LAYERS)
    return (f"// Generated by bench/gen_policy.py --bench-dir: do not edit.\n"
            f"// The hand-written classifier of the {n}-filter policy: one function per layer with filters, each an\n"
            f"// if/else chain per sublayer in evaluation order, as one would write it for this one policy.\n"
            f"#pragma once\n#include <strata/strata.hpp>\n\n#include <cstdint>\n\nnamespace hand{n} {{\n\n"
            f"struct layer_decision {{\n  strata::action act = strata::action::none;\n  std::int16_t filter = -1;\n"
            f"  std::int16_t sublayer = -1;\n}};\n\n{body}\n\n}}  // namespace hand{n}\n")


# --- plain rule lists (the run-time engine) -------------------------------------------------------------
def rules_text(filters, name):
    rows = []
    for f in filters:
        conds = ", ".join(f"{{{c.kind}, {c.a:#x}u, {c.b:#x}u}}" for c in f.conds)
        act = "strata::action::permit" if f.act == "permit" else "strata::action::block"
        rows.append(f"    {{strata::layer_id::{f.layer}, {SUBLAYER_WEIGHT[f.sub]:#x}, {f.effective_weight():#x}ull, {act}, "
                    f"{f.index}, {len(f.conds)}, {{{conds}}}}}")
    return f"inline constexpr rule {name}[] = {{\n" + ",\n".join(rows) + "};\n"


# --- BPF -------------------------------------------------------------------------------------------
def bpf_expression(filters):
    terms = []
    for f in filters:
        inbound = f.layer.startswith("inbound")
        parts = ["ip"]
        proto = next(c.a for c in f.conds if c.kind == PROTO)
        pname = "tcp" if proto == 6 else "udp"
        mine = "dst" if inbound else "src"
        theirs = "src" if inbound else "dst"
        for c in f.conds:
            if c.kind == PORT_EQ:
                parts.append(f"{pname} {mine} port {c.a}")
            elif c.kind == PORT_RANGE:
                parts.append(f"{pname} {mine} portrange {c.a}-{c.b}")
            elif c.kind == RADDR24:
                parts.append(f"{theirs} net {ip(c.a)}/24")
        parts.append("@IN@" if inbound else "@OUT@")
        terms.append("(" + " and ".join(parts) + ")")
    return " or ".join(terms)


def write_bench_dir(d):
    os.makedirs(d, exist_ok=True)
    pols = {f"p{n}": filters_of(n) for n in (10, 100, 1000)}
    stateless = {f"s{n}": stateless_filters_of(n) for n in (10, 100)}

    def write(name, text):
        path = os.path.join(d, name)
        old = open(path).read() if os.path.exists(path) else None
        if old != text:  # keep the timestamp when nothing changed: no rebuild
            with open(path, "w") as f:
                f.write(text)

    write("bench_sublayers.hpp", "// Generated by bench/gen_policy.py --bench-dir: do not edit.\n#pragma once\n"
          "#include <strata/strata.hpp>\n\n" f"namespace generated {{\nusing namespace strata;\n{sublayer_text()}\n"
          "}  // namespace generated\n")
    for name, fs in list(pols.items()) + list(stateless.items()):  # one header each: a TU pays only for its own
        write(f"bench_policy_{name}.hpp",
              "// Generated by bench/gen_policy.py --bench-dir: do not edit.\n#pragma once\n#include \"bench_sublayers.hpp\"\n\n"
              f"namespace generated {{\nusing namespace strata;\n// {name}: {len(fs)} filters\n"
              + policy_text(fs, name) + "}  // namespace generated\n")

    text = ("// Generated by bench/gen_policy.py --bench-dir: do not edit.\n"
            "// The benchmark policies as plain rule lists, the input of the run-time (vector) engine.\n"
            "#pragma once\n#include <strata/strata.hpp>\n\n#include <cstdint>\n\nnamespace bench_rules {\n"
            "enum cond_kind : std::uint8_t { port_eq, port_range, raddr24, laddr, proto };\n"
            "struct cond {\n  std::uint8_t kind;\n  std::uint32_t a, b;\n};\n"
            "struct rule {\n  strata::layer_id layer;\n  std::uint16_t sublayer_weight;\n  std::uint64_t weight;\n"
            "  strata::action act;\n  std::uint16_t index;\n  std::uint8_t ncond;\n  cond conds[3];\n};\n")
    for name, fs in list(pols.items()) + list(stateless.items()):
        text += rules_text(fs, name)
    write("bench_rules.hpp", text + "}  // namespace bench_rules\n")

    write("bench_hand100.hpp", hand_header(pols["p100"], 100))

    text = ("// Generated by bench/gen_policy.py --bench-dir: do not edit.\n"
            "// The stateless policies as libpcap expressions; @IN@ / @OUT@ stand for the observed host's\n"
            "// 'dst net ...' / 'src net ...' (the benchmark substitutes them per capture).\n"
            "#pragma once\n\nnamespace bench_bpf {\n")
    for name, fs in stateless.items():
        text += f'inline constexpr const char* {name} =\n    "{bpf_expression(fs)}";\n'
    write("bench_bpf.hpp", text + "}  // namespace bench_bpf\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?")
    ap.add_argument("--name", default="generated_policy")
    ap.add_argument("--main", action="store_true", help="append a main() that compiles the policy against every path")
    ap.add_argument("--bench-dir", help="write the headers of bench/throughput.cpp into this directory")
    a = ap.parse_args()
    if a.bench_dir:
        write_bench_dir(a.bench_dir)
        raise SystemExit(0)
    if a.n is None:
        ap.error("N is required")
    text = generate(a.n, a.name)
    if a.main:
        text = text.replace("#pragma once\n", "")
        text += (f"\nint main(int argc, char**) {{\n  strata::incoming_values v{{.local_port = static_cast<std::uint16_t>(argc)}};\n"
                 f"  strata::trace t;\n  auto r = strata::compiled<generated::{a.name}>::classify({{strata::path_kind::tcp_inbound_syn, strata::family::v4, false}}, v, t);\n"
                 f"  return static_cast<int>(r.verdict) + t.size();\n}}\n")
    print(text)

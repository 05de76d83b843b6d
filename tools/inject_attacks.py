#!/usr/bin/env python3
"""Labelled captures with attacks the public ones do not have, made from a real one.

Netsieve's defaults are judged on captures of other networks with other attacks (floods, slow
scans, a new host sweeping the LAN). This writes such a capture from a labelled Wireshark CSV
export and its `NAME.labels.csv` / `NAME.stats.json`: its packets (optionally without some or
all of its own attacks), plus synthetic attacks written as Wireshark writes them, renumbered in
time order, with labels and an attack table `netsieve evaluate` reads.

The attackers and the target come from the capture itself: the LAN is the /24 most IPv4
sources are in, the target its most contacted host, the attackers its busiest other hosts (a
new host for `new_sweep`), their MAC names from the capture's ARP lines.

Attacks (each at a time given with `--at KIND=SECONDS`, else spread over the capture):
  slow_scan   30 SYNs to 30 ports of the target, one every ~4 s, each refused (RST, ACK)
  syn_flood   6,000 SYNs in 10 s to port 443 of the target from random ports, a third answered
  icmp_flood  3,000 echo requests in 6 s to the target, each answered
  new_sweep   a host never seen before asks ARP for every address of the /24 (20 a second),
              then pings those that answered

usage: tools/inject_attacks.py IN.csv OUT.csv KIND[,KIND…] [--drop KIND,…|all] [--at KIND=S]
       netsieve evaluate OUT.csv --labels OUT.labels.csv
"""
import argparse
import collections
import csv
import ipaddress
import json
import random
import re


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("attacks", help="comma-separated: slow_scan, syn_flood, icmp_flood, new_sweep (or none)")
    ap.add_argument("--drop", default="", help="the capture's own attacks to remove (kinds, or all)")
    ap.add_argument("--at", action="append", default=[], help="KIND=SECONDS: when an attack starts")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    which = [w for w in a.attacks.split(",") if w and w != "none"]
    drop = set(a.drop.split(",")) - {""}
    base = a.src[: -len(".csv")] if a.src.endswith(".csv") else a.src
    rows = list(csv.reader(open(a.src, newline="", encoding="utf-8")))
    head, rows = rows[0], rows[1:]
    labels = {r["No."]: r["attack"] for r in csv.DictReader(open(base + ".labels.csv")) if r["label"] == "1"}
    stats = json.load(open(base + ".stats.json"))

    def dropped(kind):
        return kind and ("all" in drop or kind in drop)

    pk = [(float(r[1]), r[2], r[3], r[4], r[5], r[6], labels.get(r[0], "")) for r in rows]
    pk = [p for p in pk if not dropped(p[6])]
    wins = [w for w in stats["attack_windows_rel"] if not dropped(w["kind"])]
    duration = max(p[0] for p in pk)

    # The LAN: the /24 most IPv4 sources are in; its hosts by packets; their MAC names.
    v4 = collections.Counter()
    for p in pk:
        for addr in (p[1], p[2]):
            try:
                if isinstance(ipaddress.ip_address(addr), ipaddress.IPv4Address):
                    v4[addr] += 1
            except ValueError:
                pass
    nets = collections.Counter()
    for addr, n in v4.items():
        nets[ipaddress.ip_network(addr + "/24", strict=False)] += n
    lan = nets.most_common(1)[0][0]
    hosts = [h for h, _ in v4.most_common() if ipaddress.ip_address(h) in lan and not h.endswith(".255")]
    mac = {}
    for p in pk:
        m = re.match(r"Who has [\d.]+\? Tell ([\d.]+)", p[5])
        if p[3] == "ARP" and m:
            mac.setdefault(m.group(1), p[1])
    target = hosts[0]
    others = [h for h in hosts[1:] if not h.endswith(".1")] or hosts[1:]
    attacker = {k: others[i % len(others)] for i, k in enumerate(["slow_scan", "syn_flood", "icmp_flood"])}
    start = {k: duration * (i + 1) / (len(which) + 1) for i, k in enumerate(which)}
    for s in a.at:
        k, t = s.split("=")
        start[k] = float(t)

    def window(kind, t0, t1, ips, macs):
        wins.append({"kind": kind, "host": kind, "start": round(t0, 6), "end": round(t1, 6),
                     "win_start": round(t0 - 1, 6), "win_end": round(t1 + 1, 6),
                     "rule": {"type": "host", "macs": macs, "ips": ips}})

    def macs_of(ip):
        return [mac[ip]] if ip in mac else []

    for kind in which:
        t0 = start[kind]
        if kind == "slow_scan":
            src = attacker[kind]
            ports = rnd.sample([21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 554, 587, 631, 993,
                                995, 1025, 1723, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200, 11211, 27017], 30)
            for i, port in enumerate(ports):
                t = t0 + i * 4.0 + rnd.random()
                sp = 40000 + i
                pk.append((t, src, target, "TCP", "58", f"{sp}  >  {port} [SYN] Seq=0 Win=1024 Len=0 MSS=1460", kind))
                pk.append((t + 0.0003, target, src, "TCP", "54",
                           f"{port}  >  {sp} [RST, ACK] Seq=1 Ack=1 Win=0 Len=0", kind))
            window(kind, t0, t + 0.001, [src], macs_of(src))
        elif kind == "syn_flood":
            src, n = attacker[kind], 6000
            for i in range(n):
                t = t0 + i / 600.0
                sp = rnd.randint(1024, 65535)
                pk.append((t, src, target, "TCP", "54", f"{sp}  >  443 [SYN] Seq=0 Win=512 Len=0", kind))
                if i % 3 == 0:
                    pk.append((t + 0.0002, target, src, "TCP", "58",
                               f"443  >  {sp} [SYN, ACK] Seq=0 Ack=1 Win=64240 Len=0 MSS=1460", kind))
            window(kind, t0, t0 + n / 600.0, [src], macs_of(src))
        elif kind == "icmp_flood":
            src = attacker[kind]
            for i in range(3000):
                t = t0 + i / 500.0
                seq = f"seq={i}/{(i % 256) << 8 | i // 256}"
                pk.append((t, src, target, "ICMP", "98", f"Echo (ping) request  id=0x4d2a, {seq}, ttl=64", kind))
                pk.append((t + 0.0001, target, src, "ICMP", "98", f"Echo (ping) reply    id=0x4d2a, {seq}, ttl=64", kind))
            window(kind, t0, t0 + 6.0, [src], macs_of(src))
        elif kind == "new_sweep":
            new_mac = "IntelCor_5e:21:07"
            used = set(hosts)
            new = next(str(h) for h in lan.hosts() if str(h) not in used and int(str(h).split(".")[-1]) > 100)
            live = [h for h in hosts if h in mac]
            t = t0
            for x in lan.hosts():
                x = str(x)
                if x == new:
                    continue
                t += 0.05
                pk.append((t, new_mac, "Broadcast", "ARP", "42", f"Who has {x}? Tell {new}", kind))
                if x in live:
                    pk.append((t + 0.0004, mac[x], new_mac, "ARP", "42", f"{x} is at 00:00:5e:00:53:{int(x.split('.')[-1]):02x}", kind))
            t1 = t
            for j, x in enumerate(live):
                t = t1 + 0.5 + j * 0.01
                pk.append((t, new, x, "ICMP", "42", "Echo (ping) request  id=0x1e2f, seq=0/0, ttl=64", kind))
                pk.append((t + 0.0003, x, new, "ICMP", "60", "Echo (ping) reply    id=0x1e2f, seq=0/0, ttl=64", kind))
            window(kind, t0, t + 0.001, [new], [new_mac])
        else:
            ap.error(f"unknown attack {kind!r}")

    pk.sort(key=lambda p: p[0])
    out = a.out[: -len(".csv")] if a.out.endswith(".csv") else a.out
    with open(out + ".csv", "w", newline="") as f, open(out + ".labels.csv", "w", newline="") as g:
        w, lw = csv.writer(f, quoting=csv.QUOTE_ALL), csv.writer(g)
        w.writerow(head)
        lw.writerow(["No.", "label", "attack"])
        for i, p in enumerate(pk, 1):
            w.writerow([i, f"{p[0]:.6f}", p[1], p[2], p[3], p[4], p[5]])
            lw.writerow([i, 1 if p[6] else 0, p[6]])
    stats["attack_windows_rel"] = wins
    stats["packets"] = len(pk)
    json.dump(stats, open(out + ".stats.json", "w"), indent=1)
    print(f"{out}.csv: {len(pk)} packets; target {target}; attacks at " +
          ", ".join(f"{k} {start[k]:.0f} s" for k in which))


if __name__ == "__main__":
    main()

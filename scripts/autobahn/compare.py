#!/usr/bin/env python3
"""Compares an Autobahn fuzzingclient index.json with the committed expectations.

Every case must be OK, NON-STRICT or INFORMATIONAL; only the compression cases (12.*, 13.*) may be
UNIMPLEMENTED. Any difference from expected.json (a case added, removed or changed) fails, so a regression and
an unexplained improvement are both noticed. AUTOBAHN_UPDATE=1 rewrites expected.json instead.
"""
import json
import os
import sys

ALLOWED = {"OK", "NON-STRICT", "INFORMATIONAL"}


def case_key(case_id):
    return tuple(int(part) for part in case_id.split("."))


def main():
    index_path, expected_path, summary_path = sys.argv[1:4]
    with open(index_path) as f:
        index = json.load(f)
    agent = next(iter(index))
    results = {
        case: {"behavior": r["behavior"], "behaviorClose": r["behaviorClose"]}
        for case, r in index[agent].items()
    }
    bad = []
    for case, r in sorted(results.items(), key=lambda kv: case_key(kv[0])):
        behavior = r["behavior"]
        compression = case.startswith("12.") or case.startswith("13.")
        if behavior in ALLOWED or (compression and behavior == "UNIMPLEMENTED"):
            continue
        bad.append("%s: %s (close: %s)" % (case, behavior, r["behaviorClose"]))

    counts = {}
    for r in results.values():
        counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
    summary = "autobahn: %d cases: %s" % (
        len(results), ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    with open(summary_path, "w") as f:
        f.write(summary + "\n")
    print(summary)

    if os.environ.get("AUTOBAHN_UPDATE"):
        with open(expected_path, "w") as f:
            json.dump(dict(sorted(results.items(), key=lambda kv: case_key(kv[0]))), f, indent=1)
            f.write("\n")
        print("autobahn: wrote", expected_path)
    else:
        with open(expected_path) as f:
            expected = json.load(f)
        for case in sorted(set(expected) | set(results), key=case_key):
            if expected.get(case) != results.get(case):
                bad.append("%s: expected %s, got %s" % (case, expected.get(case), results.get(case)))

    if bad:
        print("autobahn: %d problem(s):" % len(bad))
        for line in bad[:60]:
            print("  " + line)
        sys.exit(1)
    print("autobahn: every case as expected")


if __name__ == "__main__":
    main()

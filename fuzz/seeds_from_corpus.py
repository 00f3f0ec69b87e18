#!/usr/bin/python3
"""Writes fuzz seeds for http1_head_fuzzer from the desync corpus (../shared/corpus, YAML via
python3-yaml): each case serialised byte for byte as the corpus README says, behind the
fuzzer's two control bytes (request, no split). Usage: seeds_from_corpus.py CORPUS_DIR OUT_DIR
"""
import os
import sys

import yaml


def main():
    corpus, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(corpus)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(corpus, name), encoding="utf-8") as f:
            cases = yaml.safe_load(f) or []
        for case in cases:
            head = f"{case['method']} {case['uri']} {case['version']}\r\n"
            for h in case.get("headers") or []:
                head += f"{h['name']}: {h['value']}\r\n"
            data = b"\x01\x00" + (head + "\r\n").encode("latin-1", "replace")
            n += 1
            with open(os.path.join(out, f"desync-{n:03d}"), "wb") as f:
                f.write(data)
    print(f"seeds_from_corpus: {n} cases")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tools/ctattn_gen.py rejects a model description's unknown keys by name, with the nearest known
key, at every level (model, block, attention, mask, ffn, norm, position, head, checkpoint), and
writes nothing; keys starting with "_" are comments. Run by meson (tests/c_api/meson.build):

    test_generator_keys.py SOURCE_DIR"""
import copy
import json
import pathlib
import subprocess
import sys
import tempfile

failures = []


def check(ok, what):
    print(("pass " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def main():
    source = pathlib.Path(sys.argv[1]).resolve()
    base = json.loads((source / "configs" / "stories260k.json").read_text())
    base.pop("checkpoint")  # optional: a description without one generates an API for run-time weights

    def edit(change):
        cfg = copy.deepcopy(base)
        change(cfg)
        return cfg

    def rename(obj, old, new):
        obj[new] = obj.pop(old)

    # (what, description, the unknown key, the suggestion or None)
    cases = [
        ("a misspelt d_ff in the FFN", edit(lambda c: rename(c["block"]["ffn"], "d_ff", "dff")), "dff", "d_ff"),
        ("a misspelt top-level seq_capacity", edit(lambda c: rename(c, "seq_capacity", "seq_capacty")), "seq_capacty", "seq_capacity"),
        ("a misspelt kv_heads in attention", edit(lambda c: rename(c["block"]["attention"], "kv_heads", "kv_head")), "kv_head", "kv_heads"),
        ("a misspelt mask window", edit(lambda c: c["block"]["attention"].update(mask={"kind": "sliding_window", "windw": 4})), "windw", "window"),
        ("a misspelt norm eps", edit(lambda c: rename(c["block"]["norm"], "eps", "epsilon")), "epsilon", "eps"),
        ("a misspelt rotary theta", edit(lambda c: rename(c["position"], "theta", "thetta")), "thetta", "theta"),
        ("a misspelt block placement", edit(lambda c: rename(c["block"], "placement", "placment")), "placment", "placement"),
        ("a misspelt final_norm eps", edit(lambda c: rename(c["final_norm"], "eps", "esp")), "esp", "eps"),
        ("a misspelt checkpoint sha256", edit(lambda c: c.update(checkpoint={"path": "x.bin", "sha265": "0"})), "sha265", "sha256"),
        ("a key like no other", edit(lambda c: c.update(zzzz=1)), "zzzz", None),
    ]
    with tempfile.TemporaryDirectory(prefix="ctattn-gen-keys-") as tmp:
        work = pathlib.Path(tmp)
        for what, cfg, key, nearest in cases:
            path = work / "model.json"
            path.write_text(json.dumps(cfg))
            out = work / "out"
            result = subprocess.run([sys.executable, str(source / "tools" / "ctattn_gen.py"), str(path), "--out", str(out)],
                                    capture_output=True, text=True)
            message = result.stderr.strip()
            print(f"  {what}: {message}")
            check(result.returncode == 1, f"{what}: exit status 1 (got {result.returncode})")
            check(f'unknown key "{key}"' in message, f"{what}: the error names \"{key}\"")
            if nearest:
                check(f'did you mean "{nearest}"?' in message, f"{what}: the error suggests \"{nearest}\"")
            else:
                check("did you mean" not in message, f"{what}: no suggestion when nothing is near")
            check(not out.exists(), f"{what}: nothing written")

        # Comments and a description without a checkpoint are fine.
        cfg = edit(lambda c: c.update(_comment="keys starting with _ are comments"))
        cfg["block"]["ffn"]["_why"] = "SwiGLU as in llama"
        path = work / "model.json"
        path.write_text(json.dumps(cfg))
        result = subprocess.run([sys.executable, str(source / "tools" / "ctattn_gen.py"), str(path), "--out", str(work / "ok")],
                                capture_output=True, text=True)
        check(result.returncode == 0 and (work / "ok" / "ctattn_stories260k.h").exists(),
              f"comments and no checkpoint generate the API ({result.stderr.strip()})")
    if failures:
        print(f"{len(failures)} failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
